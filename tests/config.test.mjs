// The wrangler configs are read into the description the harness wires Miniflare from.

import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { REPO_ROOT, loadWorkerConfig, loadWorkerConfigs } from "./harness/config.mjs";
import { sharedBindings } from "./harness/worker-options.mjs";

const FIXTURES = join(REPO_ROOT, "tests/fixtures");

describe("config", () => {
  it("normalises every config feature", () => {
    assert.deepEqual(loadWorkerConfig(join(FIXTURES, "wrangler/alpha.toml")), {
      crate: "alpha",
      configPath: join(FIXTURES, "wrangler/alpha.toml"),
      name: "fixture-alpha",
      scriptPath: join(FIXTURES, "workers/alpha.mjs"),
      modulesRoot: join(FIXTURES, "workers"),
      compatibilityDate: "2026-04-01",
      compatibilityFlags: ["nodejs_compat"],
      kv: { PLATFORM_CACHE: "fixture-cache" },
      d1: { PLATFORM_DB: "fixture-db" },
      migrationsDirs: { "fixture-db": join(FIXTURES, "wrangler/migrations") },
      vars: { GREETING: "hello from alpha", LIMITS: { daily: 5 } },
      crons: ["*/5 * * * *", "0 3 * * *"],
      queueProducers: { JOBS: "fixture-jobs" },
      queueConsumers: [],
      services: { BETA: "fixture-beta" },
    });
    assert.deepEqual(loadWorkerConfig(join(FIXTURES, "wrangler/beta.toml")).queueConsumers, [
      {
        queue: "fixture-jobs",
        maxBatchSize: 1,
        maxBatchTimeout: 1,
        maxRetries: 2,
        deadLetterQueue: "fixture-jobs-dlq",
        retryDelay: undefined,
      },
    ]);
  });

  it("applies an env section as wrangler does: bindings and vars replaced, the rest inherited", () => {
    const staging = loadWorkerConfig(join(FIXTURES, "wrangler/alpha.toml"), { env: "staging" });
    assert.equal(staging.name, "fixture-alpha-staging");
    assert.deepEqual(staging.vars, { GREETING: "hello from staging" });
    assert.deepEqual(staging.kv, { PLATFORM_CACHE: "fixture-cache-staging" });
    assert.deepEqual(staging.services, { BETA: "fixture-beta-staging" });
    assert.deepEqual(staging.d1, {});
    assert.deepEqual(staging.queueProducers, {});
    assert.deepEqual(staging.crons, ["*/5 * * * *", "0 3 * * *"]);
    assert.deepEqual(staging.compatibilityFlags, ["nodejs_compat"]);
    assert.equal(staging.scriptPath, join(FIXTURES, "workers/alpha.mjs"));
    assert.throws(() => loadWorkerConfig(join(FIXTURES, "wrangler/beta.toml"), { env: "staging" }), /no \[env\.staging\]/);
  });

  it("reads every platform config, each sharing one id per binding", () => {
    for (const env of [undefined, "staging"]) {
      const configs = loadWorkerConfigs({ env });
      assert.ok(configs.length > 0);
      for (const config of configs) {
        // worker-build's output, or a hand-written entry next to it that imports it (error-collector's tail.mjs).
        const entries = ["build/index.js", "tail.mjs"].map((entry) => join(REPO_ROOT, "workers", config.crate, entry));
        assert.ok(entries.includes(config.scriptPath), `${config.configPath}: main is ${config.scriptPath}`);
        assert.ok(Object.keys(config.kv).length > 0 && Object.keys(config.d1).length > 0, config.configPath);
      }
      assert.doesNotThrow(() => sharedBindings(configs));
      assert.equal(new Set(configs.map((config) => config.name)).size, configs.length);
    }
  });

  it("refuses configs that bind one name to different ids", () => {
    const alpha = loadWorkerConfig(join(FIXTURES, "wrangler/alpha.toml"));
    const staging = loadWorkerConfig(join(FIXTURES, "wrangler/alpha.toml"), { env: "staging" });
    assert.throws(() => sharedBindings([alpha, staging]), /PLATFORM_CACHE is fixture-cache-staging here but fixture-cache/);
  });
});
