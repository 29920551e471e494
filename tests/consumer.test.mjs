// The test consumer speaks the consumer SDK's protocol (consumer-protocol.md): which breaker keys stop it,
// with which error, and the exact telemetry it sends. Platform tests rely on it behaving like the SDK.

import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import {
  GLOBAL_STATUS_KEY,
  GLOBAL_STOP_ALL_KEY,
  LEGACY_DISABLED,
  STOP,
  featureReasonKey,
  featureStatusKey,
  legacyDisabledReasonKey,
  legacyEnabledKey,
  middlewareProjectKey,
  projectStatusKey,
} from "./consumer/keys.mjs";
import { TEST_CONSUMER } from "./harness/worker-options.mjs";
import { startPlatform } from "./harness/platform.mjs";

const FEATURE = "shop:checkout:pay";
const PROJECT = "shop";
const NOW = Date.UTC(2026, 10, 22, 12, 0);
const TRACKED_FIELDS = ["feature_key", "project", "category", "feature", "metrics", "timestamp", "correlation_id", "trace_id", "span_id"];

describe("test consumer", () => {
  let platform;
  before(async () => {
    // The consumer needs no platform worker: it talks to the platform only through KV and the queue.
    platform = await startPlatform({ workers: [], consumer: true });
  });
  after(() => platform?.dispose());
  afterEach(async () => {
    for (const { name } of await platform.kv.list("")) await platform.kv.delete(name);
    await platform.capturedTelemetry();
  });

  const request = (path, init) => platform.fetch(TEST_CONSUMER, path, init);
  const work = (query = "kv=4&d1=2") => request(`/work?feature=${FEATURE}&now=${NOW}&${query}`);

  /** Asserts a 503 from a breaker trip and that nothing was sent. */
  async function assertStopped(level, reason) {
    const response = await work();
    assert.equal(response.status, 503);
    assert.equal(response.headers.get("retry-after"), "3600");
    const suffix = reason === undefined ? "" : `: ${reason}`;
    assert.deepEqual(await response.json(), {
      success: false,
      error: `Circuit breaker STOP for ${FEATURE} at ${level} level${suffix}`,
      code: "CIRCUIT_BREAKER",
      level,
      ...(reason === undefined ? {} : { reason }),
    });
    assert.deepEqual(await platform.capturedTelemetry(), []);
  }

  describe("telemetry", () => {
    it("sends one message of the SDK's exact shape for metered work", async () => {
      const response = await request(`/work?feature=${FEATURE}&now=${NOW}&kv=4&d1=2`, { headers: { "x-correlation-id": "corr-1" } });
      assert.equal(response.status, 200);
      const { metrics: counted } = await response.json();

      const [message, ...others] = await platform.capturedTelemetry();
      assert.deepEqual(others, []);
      const { request_duration_ms: duration, ...fields } = message;
      assert.deepEqual(Object.keys(fields).sort(), [...TRACKED_FIELDS].sort());
      assert.equal(fields.feature_key, FEATURE);
      assert.deepEqual([fields.project, fields.category, fields.feature], ["shop", "checkout", "pay"]);
      assert.equal(fields.timestamp, NOW);
      assert.equal(fields.correlation_id, "corr-1");
      assert.match(fields.trace_id, /^[0-9a-f]{32}$/);
      assert.match(fields.span_id, /^[0-9a-f]{16}$/);
      assert.ok(duration === undefined || (Number.isInteger(duration) && duration > 0), `request_duration_ms ${duration}`);
      // One of each KV kind; D1 counts come from the statements' meta, and zero counts are left out.
      assert.deepEqual(message.metrics, Object.fromEntries(Object.entries(counted).filter(([, value]) => value > 0)));
      assert.equal(message.metrics.kvWrites, 1);
      assert.equal(message.metrics.kvReads, 1);
      assert.equal(message.metrics.kvLists, 1);
      assert.equal(message.metrics.kvDeletes, 1);
      assert.equal(message.metrics.d1Writes, 2);
      assert.equal(message.metrics.d1RowsWritten, 2);
    });

    it("sends nothing when every metric is zero", async () => {
      assert.equal((await work("kv=0&d1=0")).status, 200);
      assert.deepEqual(await platform.capturedTelemetry(), []);
    });

    it("sends the heartbeat shape from /heartbeat and reports STOP in the control plane", async () => {
      await platform.kv.put(projectStatusKey(PROJECT), STOP);
      const response = await request(`/heartbeat?feature=${FEATURE}&now=${NOW}`);
      assert.equal(response.status, 200);
      assert.deepEqual((await response.json()).controlPlane, { healthy: true, status: "STOP" });
      assert.deepEqual(await platform.capturedTelemetry(), [
        { feature_key: FEATURE, project: "shop", category: "checkout", feature: "pay", metrics: {}, timestamp: NOW, is_heartbeat: true },
      ]);
    });

    it("refuses feature ids without exactly three parts", async () => {
      const response = await request("/work?feature=shop:checkout&kv=1");
      assert.equal(response.status, 400);
      assert.deepEqual(await response.json(), { error: 'Invalid featureId format: "shop:checkout". Expected "project:category:feature"' });
    });
  });

  describe("feature circuit breaker", () => {
    it("stops at feature level with the REASON key's text", async () => {
      await platform.kv.put(featureStatusKey(FEATURE), STOP);
      await platform.kv.put(featureReasonKey(FEATURE), "daily kvWrites budget exceeded");
      await assertStopped("feature", "daily kvWrites budget exceeded");
    });

    it("stops at feature level without a reason when there is no REASON key", async () => {
      await platform.kv.put(featureStatusKey(FEATURE), STOP);
      await assertStopped("feature", undefined);
    });

    it("stops at project level", async () => {
      await platform.kv.put(projectStatusKey(PROJECT), STOP);
      await assertStopped("project", "Project shop circuit breaker is STOP");
    });

    it("stops at global level, which wins over every other trip", async () => {
      await platform.kv.put(GLOBAL_STATUS_KEY, STOP);
      await platform.kv.put(projectStatusKey(PROJECT), STOP);
      await platform.kv.put(featureStatusKey(FEATURE), STOP);
      await platform.kv.put(legacyEnabledKey(FEATURE), LEGACY_DISABLED);
      await assertStopped("global", "Global circuit breaker is STOP");
    });

    it("stops on the legacy enabled=false key with its disabled_reason", async () => {
      await platform.kv.put(legacyEnabledKey(FEATURE), LEGACY_DISABLED);
      await platform.kv.put(legacyDisabledReasonKey(FEATURE), "Manually disabled via dashboard");
      await assertStopped("feature", "Manually disabled via dashboard");
    });

    it("treats anything but exactly STOP (or legacy false) as GO", async () => {
      await platform.kv.put(featureStatusKey(FEATURE), "stop");
      await platform.kv.put(projectStatusKey(PROJECT), "Stop");
      await platform.kv.put(GLOBAL_STATUS_KEY, "STOP\n");
      await platform.kv.put(legacyEnabledKey(FEATURE), "FALSE");
      assert.equal((await work()).status, 200);
      assert.equal((await platform.capturedTelemetry()).length, 1);
    });

    it("ignores the middleware-only keys", async () => {
      await platform.kv.put(GLOBAL_STOP_ALL_KEY, "true");
      await platform.kv.put(middlewareProjectKey(PROJECT), "paused");
      assert.equal((await work()).status, 200);
    });

    it("reports the trip as an error-only message when the app calls reportError", async () => {
      await platform.kv.put(featureStatusKey(FEATURE), STOP);
      assert.equal((await work("kv=4&report=1")).status, 503);
      const [message, ...others] = await platform.capturedTelemetry();
      assert.deepEqual(others, []);
      const { request_duration_ms: duration, correlation_id: correlationId, trace_id: traceId, span_id: spanId, ...fields } = message;
      assert.deepEqual(fields, {
        feature_key: FEATURE,
        project: "shop",
        category: "checkout",
        feature: "pay",
        metrics: {},
        timestamp: NOW,
        error_count: 1,
        error_category: "CIRCUIT_BREAKER",
      });
      assert.ok(typeof correlationId === "string" && /^[0-9a-f]{32}$/.test(traceId) && /^[0-9a-f]{16}$/.test(spanId));
      assert.ok(duration === undefined || duration > 0);
    });

    it("still runs (and reports) D1-only work while stopped, as the SDK does not gate D1 statements", async () => {
      await platform.kv.put(featureStatusKey(FEATURE), STOP);
      assert.equal((await work("kv=0&d1=3")).status, 200);
      const [message] = await platform.capturedTelemetry();
      assert.equal(message.metrics.d1Writes, 3);
    });
  });

  describe("middleware", () => {
    const middleware = () => request(`/middleware?feature=${FEATURE}`);

    async function assertBlocked(code, retryAfterSeconds, error) {
      const response = await middleware();
      assert.equal(response.status, 503);
      assert.equal(response.headers.get("retry-after"), String(retryAfterSeconds));
      assert.equal(response.headers.get("x-circuit-breaker"), code);
      assert.deepEqual(await response.json(), { success: false, error, code, retryAfterSeconds });
    }

    it("passes without keys, and without a budget header", async () => {
      const response = await middleware();
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("x-platform-budget"), null);
    });

    it("blocks everything on GLOBAL_STOP_ALL=true, and only on exactly true", async () => {
      await platform.kv.put(GLOBAL_STOP_ALL_KEY, "TRUE");
      assert.equal((await middleware()).status, 200);
      await platform.kv.put(GLOBAL_STOP_ALL_KEY, "true");
      await assertBlocked("GLOBAL_CIRCUIT_BREAKER", 3600, "Service temporarily unavailable due to global circuit breaker");
    });

    it("blocks a paused project, keyed by its upper-cased slug", async () => {
      await platform.kv.put(`PROJECT:${PROJECT}:STATUS`, "paused");
      assert.equal((await middleware()).status, 200);
      await platform.kv.put(middlewareProjectKey(PROJECT), "paused");
      assert.equal(middlewareProjectKey(PROJECT), "PROJECT:SHOP:STATUS");
      await assertBlocked("PROJECT_CIRCUIT_BREAKER", 1800, "Service paused due to resource limits exceeded");
    });

    it("passes a project in warning with X-Platform-Budget: Warning", async () => {
      await platform.kv.put(middlewareProjectKey(PROJECT), "warning");
      const response = await middleware();
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("x-platform-budget"), "Warning");
    });

    it("ignores the SDK-core keys", async () => {
      await platform.kv.put(GLOBAL_STATUS_KEY, STOP);
      await platform.kv.put(projectStatusKey(PROJECT), STOP);
      assert.equal((await middleware()).status, 200);
    });
  });

  describe("errors for tail consumers", () => {
    it("logs the SDK's one-line JSON error entry", async () => {
      const response = await request(`/log-error?feature=${FEATURE}&message=disk+full`, { headers: { "x-correlation-id": "corr-9" } });
      assert.equal(response.status, 200);
      const { logged } = await response.json();
      assert.equal(logged.level, "error");
      assert.equal(logged.message, "disk full");
      assert.equal(logged.worker, TEST_CONSUMER);
      assert.equal(logged.correlationId, "corr-9");
      assert.equal(logged.featureId, FEATURE);
      assert.equal(logged.error.name, "Error");
      assert.equal(logged.error.message, "disk full");
      assert.ok(!Number.isNaN(Date.parse(logged.timestamp)));
    });

    it("throws uncaught from /throw", async () => {
      // A worker's uncaught exception surfaces as a rejection of the Node-side fetch.
      await assert.rejects(request(`/throw?feature=${FEATURE}&message=kaboom`), /kaboom/);
    });
  });
});
