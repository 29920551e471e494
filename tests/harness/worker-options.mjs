// Miniflare worker options: the platform workers exactly as their wrangler configs describe them, plus the
// harness's own workers (fake third-party APIs, the test consumer, the telemetry capture, and a
// bindings-only worker through which Node reads and writes the platform's KV and D1).

import { join } from "node:path";
import { REPO_ROOT } from "./config.mjs";

export const FAKE_APIS = "fake-apis";
export const HARNESS_STATE = "harness-state";
export const TEST_CONSUMER = "test-consumer";
export const TELEMETRY_CAPTURE = "telemetry-capture";
export const TAIL_RELAY = "harness-tail-relay";
// Fixed by the consumer SDK (consumer-protocol.md §1): the bindings an application gives it.
export const TELEMETRY_BINDING = "PLATFORM_TELEMETRY";
const CACHE_BINDING = "PLATFORM_CACHE";
// The queue the test consumer sends telemetry to.
export const TELEMETRY_QUEUE = "platform-telemetry";

const TESTS_DIR = join(REPO_ROOT, "tests");
// worker-build's output imports its .wasm module; without this rule Miniflare cannot resolve it. An
// entry outside build/ (error-collector's tail.mjs) imports build/index.js, which is an ES module as
// wrangler assumes for every .js file (Miniflare would read it as CommonJS).
const WASM_MODULE_RULES = [
  { type: "CompiledWasm", include: ["**/*.wasm"], fallthrough: true },
  { type: "ESModule", include: ["**/*.js"], fallthrough: true },
];

export function platformWorkerOptions(config, { secrets, queueBatchTimeout, socket, extraBindings = {} }) {
  return {
    name: config.name,
    modules: true,
    scriptPath: config.scriptPath,
    modulesRoot: config.modulesRoot,
    modulesRules: WASM_MODULE_RULES,
    compatibilityDate: config.compatibilityDate,
    compatibilityFlags: config.compatibilityFlags,
    kvNamespaces: config.kv,
    d1Databases: config.d1,
    queueProducers: Object.fromEntries(
      Object.entries({ ...config.queueProducers, ...extraBindings.queueProducers }).map(([binding, queueName]) => [binding, { queueName }]),
    ),
    queueConsumers: Object.fromEntries(
      config.queueConsumers.map(({ queue, ...options }) => [
        queue,
        withoutUndefined({ ...options, ...(queueBatchTimeout === undefined ? {} : { maxBatchTimeout: queueBatchTimeout }) }),
      ]),
    ),
    serviceBindings: { ...config.services, ...extraBindings.serviceBindings },
    // Secrets (ADMIN_TOKEN, ...) are set with `wrangler secret put` in production, so no config declares them.
    bindings: { ...config.vars, ...secrets },
    outboundService: FAKE_APIS,
    ...(socket === undefined ? {} : { unsafeDirectSockets: [socket] }),
  };
}

/**
 * The KV namespaces and D1 databases of all configs, binding → id. The platform's workers share them by
 * id, so each binding name must mean the same id everywhere.
 */
export function sharedBindings(configs) {
  const shared = { kv: {}, d1: {} };
  for (const config of configs) {
    for (const kind of ["kv", "d1"]) {
      for (const [binding, id] of Object.entries(config[kind])) {
        const known = shared[kind][binding];
        if (known !== undefined && known !== id) {
          throw new Error(`${config.configPath}: ${binding} is ${id} here but ${known} in another config`);
        }
        shared[kind][binding] = id;
      }
    }
  }
  return shared;
}

export function harnessStateOptions(shared, compatibilityDate) {
  return {
    name: HARNESS_STATE,
    modules: true,
    script: `export default { fetch() { return new Response("${HARNESS_STATE} only holds bindings", { status: 404 }); } };`,
    compatibilityDate,
    kvNamespaces: shared.kv,
    d1Databases: shared.d1,
  };
}

export function fakeApisOptions(compatibilityDate) {
  return {
    name: FAKE_APIS,
    modules: true,
    scriptPath: join(TESTS_DIR, "fakes/fake-apis.mjs"),
    compatibilityDate,
    d1Databases: { FAKES_DB: FAKE_APIS },
  };
}

export function testConsumerOptions(shared, compatibilityDate, tails) {
  return {
    ...(tails === undefined ? {} : { tails }),
    name: TEST_CONSUMER,
    modules: true,
    scriptPath: join(TESTS_DIR, "consumer/consumer.mjs"),
    compatibilityDate,
    kvNamespaces: { [CACHE_BINDING]: shared.kv[CACHE_BINDING], APP_KV: `${TEST_CONSUMER}-app` },
    d1Databases: { APP_DB: `${TEST_CONSUMER}-app` },
    queueProducers: { [TELEMETRY_BINDING]: { queueName: TELEMETRY_QUEUE } },
  };
}

export function telemetryCaptureOptions(compatibilityDate) {
  return {
    name: TELEMETRY_CAPTURE,
    modules: true,
    scriptPath: join(TESTS_DIR, "consumer/telemetry-capture.mjs"),
    compatibilityDate,
    d1Databases: { CAPTURE_DB: TELEMETRY_CAPTURE },
    // Deliver each message as soon as it arrives instead of waiting for a fuller batch.
    queueConsumers: { [TELEMETRY_QUEUE]: { maxBatchTimeout: 0 } },
  };
}

/**
 * Hands tail batches to the platform workers from inside workerd. Calling `Fetcher.tail()` from Node
 * through Miniflare's proxy hangs Node and workerd after some 80 to 170 calls in one instance; a
 * fetch to this worker, which calls `tail()` over a service binding, does not.
 */
export function tailRelayOptions(configs, compatibilityDate) {
  return {
    name: TAIL_RELAY,
    modules: true,
    script: `export default {
  async fetch(request, env) {
    const target = env[new URL(request.url).searchParams.get("to")];
    if (target === undefined) return new Response("no such worker", { status: 404 });
    await target.tail(await request.json());
    return new Response(null, { status: 204 });
  },
};`,
    compatibilityDate,
    compatibilityFlags: ["service_binding_extra_handlers"],
    serviceBindings: Object.fromEntries(configs.map((config) => [config.name, config.name])),
  };
}

function withoutUndefined(object) {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined));
}
