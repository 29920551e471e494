// A test application written from consumer-protocol.md (the real consumer SDK is not available here).
// It speaks the SDK's protocol to the platform: breaker keys read from PLATFORM_CACHE, telemetry sent to
// PLATFORM_TELEMETRY, SDK-format logs and exceptions for tail consumers.
//
// Routes (all take `feature=project:category:feature`; `now=<ms>` sets the telemetry timestamp):
//   /work?kv=N&d1=N[&report=1]  N metered KV ops on APP_KV and N D1 writes on APP_DB, then one telemetry message
//   /heartbeat                  health(): reads the three STATUS keys and sends a heartbeat
//   /middleware                 the /middleware helper's project-level check
//   /throw                      an uncaught exception
//   /log-error                  the SDK logger's one-line JSON error log

import { CircuitBreakerError, checkFeatureBreaker } from "./circuit-breaker.mjs";
import { GLOBAL_STATUS_KEY, STOP, featureStatusKey, parseFeatureId, projectStatusKey } from "./keys.mjs";
import { sdkLog } from "./logging.mjs";
import { checkProjectBreaker } from "./middleware.mjs";
import { countD1, countMetric, flushTelemetry, reportCircuitBreakerError, sendHeartbeat, startTracking } from "./telemetry.mjs";

const WORKER_NAME = "test-consumer";
const ROUTES = { "/work": work, "/heartbeat": heartbeat, "/middleware": middleware, "/throw": throwError, "/log-error": logError };

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const route = ROUTES[url.pathname];
    if (route === undefined) return Response.json({ error: `no route ${url.pathname}` }, { status: 404 });
    const featureId = url.searchParams.get("feature") ?? "";
    try {
      parseFeatureId(featureId);
    } catch (error) {
      return Response.json({ error: error.message }, { status: 400 });
    }
    const now = url.searchParams.has("now") ? Number(url.searchParams.get("now")) : undefined;
    return route({ request, env, url, featureId, now });
  },
};

// One KV operation per step, cycling through the four metered kinds.
const KV_STEPS = [
  ["kvWrites", (kv, key) => kv.put(key, "work")],
  ["kvReads", (kv, key) => kv.get(key)],
  ["kvLists", (kv) => kv.list({ prefix: "work:" })],
  ["kvDeletes", (kv, key) => kv.delete(key)],
];

async function work({ request, env, url, featureId, now }) {
  const kvOps = Number(url.searchParams.get("kv") ?? 0);
  const d1Ops = Number(url.searchParams.get("d1") ?? 0);
  const tracking = startTracking(featureId, request.headers.get("x-correlation-id") ?? crypto.randomUUID());
  // The SDK starts the check on the first binding access. KV calls wait for it; D1 statements do not,
  // so D1-only work runs (and is reported) even while the feature is stopped.
  const breaker = kvOps + d1Ops > 0 ? checkFeatureBreaker(env.PLATFORM_CACHE, featureId) : Promise.resolve();
  breaker.catch(() => {});
  try {
    for (let step = 0; step < kvOps; step++) {
      await breaker;
      const [metric, operation] = KV_STEPS[step % KV_STEPS.length];
      await operation(env.APP_KV, `work:${Math.floor(step / KV_STEPS.length)}`);
      countMetric(tracking, metric, 1);
    }
    if (d1Ops > 0) {
      // Schema set-up uses the raw binding, which the SDK does not meter.
      await env.APP_DB.prepare("CREATE TABLE IF NOT EXISTS work_items (step INTEGER NOT NULL)").run();
    }
    for (let step = 0; step < d1Ops; step++) {
      const { meta } = await env.APP_DB.prepare("INSERT INTO work_items (step) VALUES (?)").bind(step).run();
      countD1(tracking, meta);
    }
    return Response.json({ success: true, featureId, metrics: tracking.metrics });
  } catch (error) {
    if (!(error instanceof CircuitBreakerError)) throw error;
    if (url.searchParams.get("report") === "1") reportCircuitBreakerError(tracking);
    return Response.json(
      { success: false, error: error.message, code: "CIRCUIT_BREAKER", level: error.level, reason: error.reason },
      { status: 503, headers: { "Retry-After": "3600" } },
    );
  } finally {
    // The SDK flushes in ctx.waitUntil; awaiting here means the message is on the queue when the response returns.
    await flushTelemetry(tracking, env.PLATFORM_TELEMETRY, now ?? Date.now());
  }
}

async function heartbeat({ env, featureId, now }) {
  const { project, feature } = parseFeatureId(featureId);
  const statuses = await Promise.all(
    [featureStatusKey(featureId), projectStatusKey(project), GLOBAL_STATUS_KEY].map((key) => env.PLATFORM_CACHE.get(key)),
  );
  const timestamp = now ?? Date.now();
  await sendHeartbeat(featureId, env.PLATFORM_TELEMETRY, timestamp);
  return Response.json({
    healthy: true,
    controlPlane: { healthy: true, status: statuses.includes(STOP) ? "STOP" : "GO" },
    dataPlane: { healthy: true, queueSent: true },
    project,
    feature,
    timestamp,
  });
}

async function middleware({ env, featureId }) {
  const { project } = parseFeatureId(featureId);
  const result = await checkProjectBreaker(env.PLATFORM_CACHE, project);
  if (result.blocked) return result.blocked;
  const headers = result.warning ? { "X-Platform-Budget": "Warning" } : {};
  return Response.json({ success: true, project }, { headers });
}

function throwError({ url }) {
  throw new Error(url.searchParams.get("message") ?? "test-consumer: deliberate exception");
}

function logError({ request, url, featureId }) {
  const error = new Error(url.searchParams.get("message") ?? "test-consumer: deliberate error");
  const entry = sdkLog("error", {
    message: error.message,
    worker: WORKER_NAME,
    correlationId: request.headers.get("x-correlation-id") ?? crypto.randomUUID(),
    featureId,
    // At level error the SDK logs the stack too.
    error: { name: error.name, message: error.message, stack: error.stack },
  });
  return Response.json({ logged: entry });
}
