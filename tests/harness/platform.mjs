// Starts the whole platform in one Miniflare: every built worker wired from its wrangler config, the fake
// third-party APIs that receive all their outbound fetches, and optionally the test consumer. Returns a
// handle for driving the workers (fetch, cron, queue batches) and inspecting shared state (KV, D1, fakes).

import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { Miniflare } from "miniflare";
import { drainCapturedTelemetry } from "./capture-client.mjs";
import { WRANGLER_DIR, loadWorkerConfigs } from "./config.mjs";
import { createFakesClient } from "./fakes-client.mjs";
import { applyMigrations, migrationsDirsByDatabase } from "./migrations.mjs";
import { settleBatch } from "./queue-settlement.mjs";
import {
  FAKE_APIS,
  HARNESS_STATE,
  TAIL_RELAY,
  TELEMETRY_CAPTURE,
  TELEMETRY_QUEUE,
  fakeApisOptions,
  harnessStateOptions,
  platformWorkerOptions,
  sharedBindings,
  tailRelayOptions,
  telemetryCaptureOptions,
  testConsumerOptions,
} from "./worker-options.mjs";

// What `handle.kv` and `handle.d1` operate on: the cache every worker and consumer shares, and the
// platform database.
const SHARED_KV_BINDING = "PLATFORM_CACHE";
const SHARED_D1_BINDING = "PLATFORM_DB";

/**
 * @param {object} [options]
 * @param {string[]} [options.workers] crates to start (default: every config in wrangler/)
 * @param {string} [options.env] wrangler environment whose `[env.X]` sections apply (e.g. "staging")
 * @param {string} [options.wranglerDir] where the configs are (default: the repository's wrangler/)
 * @param {string} [options.persist] directory for KV/D1/queue state; in-memory when absent
 * @param {string} [options.adminToken] the ADMIN_TOKEN every worker gets (default: random)
 * @param {Record<string, string>} [options.secrets] other secrets every platform worker gets (e.g. SLACK_WEBHOOK_URL)
 * @param {number} [options.queueBatchTimeout] seconds a queue waits to fill a batch, instead of the
 *   configs' (tests deliver at once; production batches wait to fill)
 * @param {boolean | {tails?: string[]}} [options.consumer] also run the test consumer (and a telemetry capture, see
 *   capturedTelemetry); `{tails}` names the workers that receive its tail events, as an application's `tail_consumers`
 * @param {object[]} [options.extraWorkers] more Miniflare worker options
 * @param {Record<string, {serviceBindings?: object, queueProducers?: Record<string, string>}>} [options.bindingsOf] extra
 *   bindings of a platform worker, by deployed name, for bindings its config leaves optional (e.g. `AI` bound to a fake
 *   model in extraWorkers), or a producer sent elsewhere than its config says (binding → queue, for a capture worker)
 * @param {{host?: string, port?: number}} [options.listen] serve each platform worker on its own port,
 *   `port`, `port + 1`, ... in config order (port 0: any free ports); see `handle.urls`
 * @param {import("miniflare").Log} [options.log] Miniflare's log (default: silent)
 * @param {(stdout: import("node:stream").Readable, stderr: import("node:stream").Readable) => void} [options.handleRuntimeStdio]
 *   receives the workers' console output instead of this process's stdout (benchmarks read the batch reports)
 */
export async function startPlatform({
  workers,
  env,
  wranglerDir = WRANGLER_DIR,
  persist,
  adminToken = randomBytes(24).toString("hex"),
  secrets = {},
  queueBatchTimeout,
  consumer = false,
  extraWorkers = [],
  bindingsOf = {},
  listen,
  log,
  handleRuntimeStdio,
} = {}) {
  const allConfigs = loadWorkerConfigs({ dir: wranglerDir, env });
  const configs = selectConfigs(allConfigs, workers);
  const shared = sharedBindings(allConfigs);
  const compatibilityDate = allConfigs.map((config) => config.compatibilityDate).sort().at(-1);
  // The test consumer's telemetry goes to the platform's own consumer when one is started; otherwise a
  // capture worker keeps it for capturedTelemetry().
  const capturesTelemetry =
    consumer && !configs.some((config) => config.queueConsumers.some(({ queue }) => queue === TELEMETRY_QUEUE));

  const mf = new Miniflare({
    unsafeTriggerHandlers: true,
    // A placeholder Request.cf instead of downloading Cloudflare's: offline and deterministic.
    cf: false,
    ...(persist === undefined ? {} : { defaultPersistRoot: persist }),
    ...(log === undefined ? {} : { log }),
    ...(handleRuntimeStdio === undefined ? {} : { handleRuntimeStdio }),
    workers: [
      ...configs.map((config, index) =>
        platformWorkerOptions(config, {
          secrets: { ...secrets, ADMIN_TOKEN: adminToken },
          queueBatchTimeout,
          socket: listen && directSocket(listen, index),
          extraBindings: bindingsOf[config.name],
        }),
      ),
      harnessStateOptions(shared, compatibilityDate),
      fakeApisOptions(compatibilityDate),
      tailRelayOptions(configs, compatibilityDate),
      ...(consumer ? [testConsumerOptions(shared, compatibilityDate, consumer.tails)] : []),
      ...(capturesTelemetry ? [telemetryCaptureOptions(compatibilityDate)] : []),
      ...extraWorkers,
    ],
  });

  try {
    await mf.ready;
    const handle = createHandle({ mf, configs, shared, migrations: migrationsDirsByDatabase(allConfigs), adminToken, capturesTelemetry });
    await handle.applyMigrations();
    // Extra workers with a socket of their own (e.g. a fake served to a native process) get a URL too.
    if (listen !== undefined) handle.urls = await directUrls(mf, [...configs, ...extraWorkers.filter((w) => w.unsafeDirectSockets)]);
    return handle;
  } catch (error) {
    await mf.dispose();
    throw error;
  }
}

function selectConfigs(allConfigs, crates) {
  const configs = crates === undefined ? allConfigs : crates.map((crate) => {
    const config = allConfigs.find((candidate) => candidate.crate === crate);
    if (config === undefined) throw new Error(`no wrangler config for crate ${crate}`);
    return config;
  });
  // A worker's service bindings start the workers they name, as a deploy needs them.
  for (let i = 0; i < configs.length; i++) {
    for (const service of Object.values(configs[i].services)) {
      const bound = allConfigs.find((candidate) => candidate.name === service);
      if (bound !== undefined && !configs.includes(bound)) configs.push(bound);
    }
  }
  const names = new Set(configs.map((config) => config.name));
  for (const config of configs) {
    if (!existsSync(config.scriptPath)) {
      throw new Error(`${config.name}: ${config.scriptPath} does not exist; run scripts/build ${config.crate}`);
    }
    for (const [binding, service] of Object.entries(config.services)) {
      if (!names.has(service)) throw new Error(`${config.name} binds ${binding} to ${service}, which is not started`);
    }
  }
  return configs;
}

function directSocket({ host = "127.0.0.1", port = 0 }, index) {
  return { host, port: port === 0 ? 0 : port + index };
}

async function directUrls(mf, configs) {
  const urls = {};
  for (const config of configs) urls[config.name] = (await mf.unsafeGetDirectURL(config.name)).href;
  return urls;
}

function createHandle({ mf, configs, shared, migrations, adminToken, capturesTelemetry }) {
  const worker = memoize((name) => mf.getWorker(name));
  const configOf = (name) => configs.find((config) => config.name === name);
  const kvNamespace = memoize(() => mf.getKVNamespace(SHARED_KV_BINDING, HARNESS_STATE));
  const database = memoize(() => mf.getD1Database(SHARED_D1_BINDING, HARNESS_STATE));
  const fetchWorker = async (workerName, path, init) =>
    (await worker(workerName)).fetch(new URL(path, "http://localhost").href, init);

  return {
    mf,
    adminToken,
    /** Whether capturedTelemetry() is available (test consumer on, no platform consumer of the telemetry queue). */
    capturesTelemetry,
    /** The started platform workers' normalised configs. */
    workers: configs,

    /** A request to one worker; `path` may be a path or an absolute URL. */
    fetch: fetchWorker,

    /** Like fetch, with `Authorization: Bearer <ADMIN_TOKEN>`. */
    adminFetch(workerName, path, init = {}) {
      const headers = new Headers(init.headers);
      headers.set("Authorization", `Bearer ${adminToken}`);
      return fetchWorker(workerName, path, { ...init, headers });
    },

    /** Runs a worker's scheduled handler for one of the crons its config declares. */
    async cron(workerName, cron, scheduledTime = Date.now()) {
      const declared = configOf(workerName)?.crons;
      if (declared !== undefined && !declared.includes(cron)) {
        throw new Error(`${workerName} declares no cron "${cron}" (declared: ${JSON.stringify(declared)})`);
      }
      const { outcome, noRetry } = await (await worker(workerName)).scheduled({ cron, scheduledTime: new Date(scheduledTime) });
      return { outcome, noRetry };
    },

    /**
     * Delivers one batch straight to a worker's queue handler (no broker, no waiting).
     * `messages`: `[{ body, id?, attempts?, timestamp? }]`; ids default to message-1, message-2, ...
     * Returns `{ outcome, acked: [id], retried: [{ id, delaySeconds? }] }`.
     */
    async queue(workerName, queueName, messages) {
      const declared = configOf(workerName)?.queueConsumers.map(({ queue }) => queue);
      if (declared !== undefined && !declared.includes(queueName)) {
        throw new Error(`${workerName} consumes no queue "${queueName}" (consumes: ${JSON.stringify(declared)})`);
      }
      const batch = messages.map((message, index) => ({
        id: message.id ?? `message-${index + 1}`,
        timestamp: message.timestamp ?? new Date(),
        attempts: message.attempts ?? 1,
        body: message.body,
      }));
      const result = await (await worker(workerName)).queue(queueName, batch);
      return settleBatch(result, batch.map((message) => message.id));
    },

    /**
     * Delivers one batch of tail events (synthetic TraceItems) to a worker's tail handler, as the
     * runtime does for a producer that lists it in `tail_consumers`.
     */
    async tail(workerName, events) {
      let body;
      try {
        body = JSON.stringify(events);
      } catch {
        // Events JSON cannot carry (a BigInt) go through Miniflare's proxy, for the few calls that need it.
        return (await worker(workerName)).tail(events);
      }
      const response = await (await worker(TAIL_RELAY)).fetch(`http://relay/?to=${encodeURIComponent(workerName)}`, { method: "POST", body });
      if (response.status !== 204) throw new Error(`tail batch to ${workerName}: ${response.status} ${await response.text()}`);
    },

    /** The shared PLATFORM_CACHE namespace. */
    kv: {
      put: async (key, value, options) => (await kvNamespace()).put(key, value, options),
      get: async (key) => (await kvNamespace()).get(key),
      getWithMetadata: async (key) => (await kvNamespace()).getWithMetadata(key),
      delete: async (key) => (await kvNamespace()).delete(key),
      /** Every key with the prefix, across all pages: `[{ name, expiration?, metadata? }]`. */
      async list(prefix) {
        const keys = [];
        const kv = await kvNamespace();
        let cursor;
        do {
          const page = await kv.list({ prefix, cursor });
          keys.push(...page.keys.map(({ name, expiration, metadata }) => ({ name, expiration, metadata })));
          cursor = page.list_complete ? undefined : page.cursor;
        } while (cursor !== undefined);
        return keys;
      },
    },

    /** The platform database (PLATFORM_DB). */
    d1: {
      exec: async (sql, ...params) => (await database()).prepare(sql).bind(...params).run(),
      all: async (sql, ...params) => (await (await database()).prepare(sql).bind(...params).all()).results,
      first: async (sql, ...params) => (await database()).prepare(sql).bind(...params).first(),
    },

    /** Applies pending migrations to every database that has a migrations_dir; returns `{ databaseId: [file] }`. */
    async applyMigrations() {
      const applied = {};
      for (const [databaseId, dir] of Object.entries(migrations)) {
        const binding = Object.keys(shared.d1).find((name) => shared.d1[name] === databaseId);
        applied[databaseId] = await applyMigrations(await mf.getD1Database(binding, HARNESS_STATE), dir);
      }
      return applied;
    },

    fakes: createFakesClient(() => worker(FAKE_APIS)),

    /**
     * The telemetry messages the test consumer sent since the last call, in order. Waits (at most
     * `timeoutMs`, default 10 s) until everything already sent has reached the capture worker.
     */
    async capturedTelemetry(options) {
      if (!capturesTelemetry) {
        throw new Error(`no telemetry capture: start with { consumer: true } and no platform consumer of ${TELEMETRY_QUEUE}`);
      }
      return drainCapturedTelemetry(mf, await worker(TELEMETRY_CAPTURE), options);
    },

    dispose: () => mf.dispose(),
  };
}

function memoize(load) {
  const loaded = new Map();
  return (key) => {
    if (!loaded.has(key)) loaded.set(key, load(key));
    return loaded.get(key);
  };
}
