// sync-config: the operator's two files become validated, versioned platform state (KV keys,
// D1 settings and registries), applied as a diff, resumed across invocations for large accounts,
// and kept drift-free by a daily cron.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { syncBody } from "../scripts/lib/config-files.mjs";
import { REPO_ROOT } from "./harness/config.mjs";
import { startPlatform } from "./harness/platform.mjs";
import { pollUntil } from "./harness/poll.mjs";

const DRIFT_CRON = "17 4 * * *";
// The key families sync-config writes (docs/kv-keys.md), and their prefixes for listing.
const DERIVED_PREFIXES = ["CONFIG:BUDGETS", "CONFIG:FEATURE:", "SCRIPT_MAP:", "alert-thresholds:config"];

const SERVICES = `
projects:
  shop:
    display_name: The Shop
    repository: acme/shop
    tier: 1
    scripts: [shop-api, shop-cron]
    features:
      checkout:
        pay: {cost_tier: high}
        receipt: {}
      admin:
        export: {circuit_breaker: false}
`;

const BUDGETS = `
defaults:
  daily: {d1_writes: 100_000, kv_reads: 5_000}
  monthly: {d1_writes: 2_000_000}
  warning_thresholds: [60, 85]
  circuit_breaker: {cooldown_seconds: 600, max_consecutive_trips: 4}
projects:
  shop: {daily: {d1_writes: 300_000}}
features:
  "shop:checkout:pay":
    daily: {d1_writes: "250_000", ai_neurons: 10}
alerts: {soft_limit_usd: 40}
cost_thresholds:
  d1: {critical_pct: 95}
`;

const EXPECTED_KEYS = [
  "CONFIG:BUDGETS",
  "CONFIG:FEATURE:shop:checkout:pay:BUDGET",
  "CONFIG:FEATURE:shop:checkout:pay:BUDGET_MONTHLY",
  "CONFIG:FEATURE:shop:checkout:receipt:BUDGET",
  "CONFIG:FEATURE:shop:checkout:receipt:BUDGET_MONTHLY",
  "SCRIPT_MAP:shop-api",
  "SCRIPT_MAP:shop-cron",
  "alert-thresholds:config",
];

describe("sync-config", () => {
  let platform;
  let worker;
  let usage;

  before(async () => {
    platform = await startPlatform({ workers: ["sync-config", "platform-usage"] });
    worker = platform.workers.find((config) => config.crate === "sync-config").name;
    usage = platform.workers.find((config) => config.crate === "platform-usage").name;
  });
  after(() => platform?.dispose());

  const post = async (body, { dryRun = false, contentType = "application/json" } = {}) => {
    const response = await platform.adminFetch(worker, `/sync${dryRun ? "?dry_run=1" : ""}`, {
      method: "POST",
      headers: { "Content-Type": contentType },
      body,
    });
    return { status: response.status, body: await response.json() };
  };
  // As scripts/sync-config posts them: the YAML texts read into JSON documents.
  const sync = async (texts, options) => {
    const read = syncBody(texts);
    assert.ok(read.body, JSON.stringify(read.problems));
    return post(JSON.stringify(read.body), options);
  };
  const getJson = async (path) => {
    const response = await platform.adminFetch(worker, path);
    return { status: response.status, body: await response.json() };
  };
  const derivedKeys = async () => {
    const keys = [];
    for (const prefix of DERIVED_PREFIXES) keys.push(...(await platform.kv.list(prefix)));
    return keys.filter(({ name }) => !/:(STATUS|REASON)$/.test(name));
  };
  const snapshot = async () =>
    Object.fromEntries((await derivedKeys()).map(({ name, metadata }) => [name, metadata?.written_at]));
  const historyCount = async () => (await platform.d1.first("SELECT COUNT(*) AS n FROM config_history")).n;

  it("refuses anonymous and malformed requests", async () => {
    const anonymous = await platform.fetch(worker, "/sync", { method: "POST", body: "{}" });
    assert.equal(anonymous.status, 401);
    assert.equal((await platform.fetch(worker, "/config")).status, 401);
    const malformed = await post(JSON.stringify("not an object"));
    assert.equal(malformed.status, 400);
    assert.match(malformed.body.error, /JSON object/);
    const missing = await post(JSON.stringify({ services: { projects: {} } }));
    assert.equal(missing.status, 400);
    assert.match(missing.body.error, /missing "budgets"/);
    assert.equal((await getJson("/config")).status, 404);
  });

  it("refuses YAML with what to do instead: the worker reads JSON documents", async () => {
    const asText = await post(JSON.stringify({ services: SERVICES, budgets: BUDGETS }));
    assert.equal(asText.status, 400);
    assert.deepEqual(asText.body.problems.map(({ file }) => file), ["services.yaml", "budgets.yaml"]);
    for (const { reason } of asText.body.problems) assert.match(reason, /YAML is read by scripts\/sync-config/);
    const yamlBody = await post(SERVICES, { contentType: "application/yaml" });
    assert.equal(yamlBody.status, 415);
    assert.match(yamlBody.body.error, /JSON.*scripts\/sync-config/);
    assert.equal((await getJson("/config")).status, 404);
  });

  it("dry-runs against an empty platform: every key is a put, nothing is written", async () => {
    const { status, body } = await sync({ services: SERVICES, budgets: BUDGETS }, { dryRun: true });
    assert.equal(status, 200);
    assert.equal(body.dry_run, true);
    assert.match(body.version, /^[0-9a-f]{16}$/);
    assert.equal(body.current_version, null);
    assert.deepEqual(body.plan.kv.put.map(({ key }) => key), EXPECTED_KEYS);
    assert.ok(body.plan.kv.put.every(({ action }) => action === "add"));
    assert.deepEqual(body.plan.kv.delete, []);
    assert.deepEqual(body.plan.d1.settings.upsert.map(({ key }) => key).sort(), [
      "budget_soft_limit",
      "budget_warning_thresholds",
      "cb_cooldown_seconds",
      "cb_max_consecutive_trips",
    ]);
    assert.deepEqual(body.plan.d1.projects.upsert.map((row) => row.project_id), ["shop"]);
    assert.equal(body.plan.d1.features.upsert.length, 3);
    assert.deepEqual(body.summary, {
      projects: 1, scripts: 2, features: 3, guarded_features: 2, kv_keys: 8,
      kv_put: 8, kv_delete: 0, kv_unchanged: 0, d1_changes: 8,
    });

    assert.deepEqual(await derivedKeys(), []);
    assert.equal(await historyCount(), 0);
    assert.equal((await platform.d1.first("SELECT COUNT(*) AS n FROM settings")).n, 0);
  });

  it("applies every key and row, invalidates the settings cache, and records the version", async () => {
    // platform-usage caches the defaults before the apply.
    assert.deepEqual((await (await platform.adminFetch(usage, "/settings")).json()).settings.budget_warning_thresholds, [70, 90]);
    const before = Date.now();
    const { status, body } = await sync({ services: SERVICES, budgets: BUDGETS });
    assert.equal(status, 200);
    assert.equal(body.result.complete, true);
    assert.equal(body.result.recorded, true);
    assert.equal(body.result.kv_written, 8);
    assert.equal(body.result.settings_cache_invalidated, true);

    const keys = await derivedKeys();
    assert.deepEqual(keys.map(({ name }) => name), EXPECTED_KEYS);
    for (const { name, metadata } of keys) {
      assert.equal(metadata.writer, "platform-sync-config", name);
      assert.match(metadata.digest, /^[0-9a-f]{16}$/, name);
      assert.ok(metadata.written_at >= before - 60_000, name);
    }
    // The override is merged over the defaults, metric by metric.
    assert.deepEqual(JSON.parse(await platform.kv.get("CONFIG:FEATURE:shop:checkout:pay:BUDGET")), {
      d1_writes: 250_000, kv_reads: 5_000, ai_neurons: 10,
    });
    assert.deepEqual(JSON.parse(await platform.kv.get("CONFIG:FEATURE:shop:checkout:receipt:BUDGET")), {
      d1_writes: 100_000, kv_reads: 5_000,
    });
    assert.equal(await platform.kv.get("CONFIG:FEATURE:shop:admin:export:BUDGET"), null, "unguarded: no budget");
    assert.deepEqual(JSON.parse(await platform.kv.get("SCRIPT_MAP:shop-cron")), {
      project: "shop", repository: "acme/shop", tier: 1, displayName: "The Shop",
    });
    const budgets = JSON.parse(await platform.kv.get("CONFIG:BUDGETS"));
    assert.deepEqual(budgets.projects, { shop: { daily: { d1_writes: 300_000 }, monthly: {} } });
    const thresholds = JSON.parse(await platform.kv.get("alert-thresholds:config")).thresholds;
    assert.deepEqual(thresholds.d1, { warning_pct: 40, high_pct: 60, critical_pct: 95, absolute_max_usd: 20, enabled: true });

    const settings = await platform.d1.all("SELECT key, value FROM settings ORDER BY key");
    assert.deepEqual(settings, [
      { key: "budget_soft_limit", value: "40" },
      { key: "budget_warning_thresholds", value: "60,85" },
      { key: "cb_cooldown_seconds", value: "600" },
      { key: "cb_max_consecutive_trips", value: "4" },
    ]);
    // The settings cache was deleted, so platform-usage reads the new rows at once.
    const effective = await (await platform.adminFetch(usage, "/settings")).json();
    assert.equal(effective.cached, false);
    assert.deepEqual(effective.settings, {
      budget_warning_thresholds: [60, 85], cb_cooldown_seconds: 600, cb_max_consecutive_trips: 4, budget_soft_limit: 40, d1_write_limit: 1000000,
    });
    assert.deepEqual(await platform.d1.all("SELECT project_id, display_name, repository, tier, scripts FROM project_registry"), [
      { project_id: "shop", display_name: "The Shop", repository: "acme/shop", tier: 1, scripts: '["shop-api","shop-cron"]' },
    ]);
    assert.deepEqual(
      await platform.d1.all("SELECT feature_key, circuit_breaker, cost_tier FROM feature_registry ORDER BY feature_key"),
      [
        { feature_key: "shop:admin:export", circuit_breaker: 0, cost_tier: "medium" },
        { feature_key: "shop:checkout:pay", circuit_breaker: 1, cost_tier: "high" },
        { feature_key: "shop:checkout:receipt", circuit_breaker: 1, cost_tier: "medium" },
      ],
    );

    const current = await getJson("/config");
    assert.equal(current.status, 200);
    assert.equal(current.body.version, body.version);
    assert.equal(current.body.status, "applied");
    assert.deepEqual(current.body.progress, { kv_done: 8, kv_total: 8, runs: 1 });
    assert.equal(current.body.summary.features, 3);
    assert.equal(current.body.document.services.projects.shop.repository, "acme/shop");
  });

  it("applies the same files again without writing anything", async () => {
    const before = await snapshot();
    const rowsBefore = await platform.d1.all("SELECT key, updated_at FROM settings ORDER BY key");
    const histories = await historyCount();
    // YAML or JSON: the same config is the same version.
    const { status, body } = await sync({ services: SERVICES, budgets: BUDGETS });
    assert.equal(status, 200);
    assert.deepEqual(body.plan.kv.put, []);
    assert.deepEqual(body.plan.kv.delete, []);
    assert.equal(body.plan.kv.unchanged.length, 8);
    assert.deepEqual(body.result, { complete: true, recorded: false, kv_ops: 0, d1_changes: 0 });
    assert.deepEqual(await snapshot(), before, "no key was rewritten (written_at unchanged)");
    assert.deepEqual(await platform.d1.all("SELECT key, updated_at FROM settings ORDER BY key"), rowsBefore);
    assert.equal(await historyCount(), histories);
  });

  it("reports every validation problem with its file and path, and writes nothing", async () => {
    const before = await snapshot();
    const histories = await historyCount();
    const badServices = `
projects:
  shop:
    repository: acme
    scripts: [shop-api]
    features: {checkout: {pay: {}}}
  other:
    repository: acme/other
    scripts: [shop-api]
`;
    const badBudgets = `
defaults:
  daily: {d1_write: 10, kv_reads: -5, kv_writes: 2.5}
  warning_thresholds: [90, 60]
features:
  "shop:checkout": {daily: {d1_writes: 1}}
  "ghost:api:main": {daily: {d1_writes: 1}}
cost_thresholds:
  kv: {warning_pct: 80, high_pct: 70}
`;
    const { status, body } = await sync({ services: badServices, budgets: badBudgets });
    assert.equal(status, 400);
    assert.match(body.error, /9 problems; nothing was written/);
    const found = body.problems.map(({ file, path, reason }) => `${file} ${path}: ${reason}`);
    const expected = [
      ["services.yaml projects.shop.repository", /not owner\/repo/],
      // Projects are checked in name order, so the second claim is shop's.
      ["services.yaml projects.shop.scripts[0]", /claimed by two projects: other and shop/],
      ["budgets.yaml defaults.daily.d1_write", /unknown metric "d1_write"/],
      ["budgets.yaml defaults.daily.kv_reads", /-5 is negative/],
      ["budgets.yaml defaults.daily.kv_writes", /not a whole number/],
      ["budgets.yaml defaults.warning_thresholds", /ascending/],
      ['budgets.yaml features["shop:checkout"]', /malformed feature key/],
      ['budgets.yaml features["ghost:api:main"]', /unknown project/],
      ["budgets.yaml cost_thresholds.kv", /out of order/],
    ];
    for (const [where, reason] of expected) {
      assert.ok(found.some((line) => line.startsWith(`${where}: `) && reason.test(line)), `${where} ${reason}\n${found.join("\n")}`);
    }
    assert.equal(found.length, expected.length, found.join("\n"));

    const unreadable = await post(JSON.stringify({ services: "{\"projects\": [", budgets: {} }));
    assert.equal(unreadable.status, 400);
    assert.equal(unreadable.body.problems[0].file, "services.yaml");
    assert.match(unreadable.body.problems[0].reason, /not valid JSON/);

    assert.deepEqual(await snapshot(), before);
    assert.equal(await historyCount(), histories);
  });

  it("deletes a removed feature's keys and keeps the earlier version in the history", async () => {
    const first = (await getJson("/config")).body.version;
    const smaller = SERVICES.replace("        receipt: {}\n", "").replace("shop-cron", "shop-worker");
    const { status, body } = await sync({ services: smaller, budgets: BUDGETS });
    assert.equal(status, 200);
    assert.deepEqual(body.plan.kv.delete, [
      "CONFIG:FEATURE:shop:checkout:receipt:BUDGET",
      "CONFIG:FEATURE:shop:checkout:receipt:BUDGET_MONTHLY",
      "SCRIPT_MAP:shop-cron",
    ]);
    assert.deepEqual(body.plan.kv.put.map(({ key, action }) => `${action} ${key}`), ["add SCRIPT_MAP:shop-worker"]);
    assert.deepEqual(body.plan.d1.features.delete, ["shop:checkout:receipt"]);
    assert.deepEqual(body.plan.d1.projects.upsert.map((row) => row.scripts), ['["shop-api","shop-worker"]']);
    assert.equal(body.result.kv_deleted, 3);

    const names = (await derivedKeys()).map(({ name }) => name);
    assert.ok(!names.some((name) => name.includes("receipt") || name === "SCRIPT_MAP:shop-cron"), names.join("\n"));
    assert.ok(names.includes("SCRIPT_MAP:shop-worker"));
    assert.equal((await platform.d1.first("SELECT COUNT(*) AS n FROM feature_registry")).n, 2);
    assert.equal(
      (await platform.d1.first("SELECT COUNT(*) AS n FROM synced_kv_keys")).n,
      names.length,
      "the record of written keys follows KV",
    );

    const current = await getJson("/config");
    assert.equal(current.body.version, body.version);
    const history = await getJson("/history");
    assert.equal(history.status, 200);
    assert.deepEqual(history.body.history.map((entry) => entry.version), [first]);
    assert.equal(history.body.history[0].status, "applied");
  });

  it("repairs a derived key deleted or rewritten by hand at the daily drift check", async () => {
    const deleted = "CONFIG:FEATURE:shop:checkout:pay:BUDGET";
    const edited = "SCRIPT_MAP:shop-api";
    const value = await platform.kv.get(deleted);
    const mapping = await platform.kv.get(edited);
    await platform.kv.delete(deleted);
    await platform.kv.put(edited, JSON.stringify({ project: "someone-else" }));
    const untouched = (await platform.kv.getWithMetadata("CONFIG:BUDGETS")).metadata.written_at;

    assert.deepEqual(await platform.cron(worker, DRIFT_CRON), { outcome: "ok", noRetry: false });

    assert.equal(await platform.kv.get(deleted), value);
    assert.equal(await platform.kv.get(edited), mapping);
    assert.equal((await platform.kv.getWithMetadata(edited)).metadata.writer, "platform-sync-config");
    assert.equal((await platform.kv.getWithMetadata("CONFIG:BUDGETS")).metadata.written_at, untouched, "only drifted keys are written");
    const check = (await getJson("/config")).body;
    assert.equal(check.status, "applied");
    assert.deepEqual(check.last_drift_check.repaired, [
      { key: deleted, reason: "missing" },
      { key: edited, reason: "changed" },
    ]);

    // A second check finds nothing to repair.
    await platform.cron(worker, DRIFT_CRON);
    assert.deepEqual((await getJson("/config")).body.last_drift_check.repaired, []);
  });

  it("lists its handlers in /health, the drift check stamped by its cron", async () => {
    await platform.cron(worker, DRIFT_CRON);
    const health = await (await platform.fetch(worker, "/health")).json();
    assert.deepEqual(health.handlers.map((h) => h.name), ["drift", "resume"]);
    const drift = health.handlers.find((h) => h.name === "drift");
    assert.equal(drift.condition, "healthy");
    assert.ok(Date.parse(drift.last_run_at) > Date.now() - 600_000);
  });

  it("applies the example config in config/", async () => {
    const services = readFileSync(join(REPO_ROOT, "config/services.yaml"), "utf8");
    const budgets = readFileSync(join(REPO_ROOT, "config/budgets.yaml"), "utf8");
    const { status, body } = await sync({ services, budgets });
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.result.complete, true);
    assert.ok(body.plan.kv.delete.some((key) => key.startsWith("CONFIG:FEATURE:shop:")), "the shop's keys go");
    assert.ok(await platform.kv.get("SCRIPT_MAP:my-blog"));
  });

  it("applies a 2,000-feature config completely, across invocations of at most 1,000 KV operations", async () => {
    const features = Array.from({ length: 2000 }, (_, i) => `        f${String(i).padStart(4, "0")}: {}`).join("\n");
    const services = `projects:\n  big:\n    repository: acme/big\n    scripts: [big-api]\n    features:\n      load:\n${features}\n`;
    const budgets = "defaults:\n  daily: {d1_writes: 10}\n  monthly: {d1_writes: 300}\n";
    const started = Date.now();
    const { status, body } = await sync({ services, budgets });
    assert.equal(status, 202, "the first invocation does part of the work");
    assert.equal(body.result.complete, false);
    assert.ok(body.result.kv_ops < 1000, `first run made ${body.result.kv_ops} KV operations`);
    const total = body.plan.kv.put.length + body.plan.kv.delete.length;
    assert.equal(body.summary.kv_keys, 4003);

    const done = await pollUntil(
      async () => {
        const current = (await getJson("/config")).body;
        return current.status === "applied" ? current : undefined;
      },
      { what: "the 2,000-feature apply to complete", timeoutMs: 120_000, intervalMs: 250 },
    );
    const seconds = (Date.now() - started) / 1000;
    assert.deepEqual(done.progress, { kv_done: total, kv_total: total, runs: Math.ceil(total / 900) });
    const keys = (await platform.kv.list("CONFIG:FEATURE:big:")).length;
    assert.equal(keys, 4000);
    assert.ok(await platform.kv.get("SCRIPT_MAP:big-api"));
    assert.equal((await platform.d1.first("SELECT COUNT(*) AS n FROM feature_registry")).n, 2000);
    assert.equal((await platform.kv.list("SCRIPT_MAP:my-")).length, 0, "the previous config's keys are gone");
    console.log(`# 2,000 features: ${total} KV operations in ${done.progress.runs} runs, ${seconds.toFixed(1)} s`);
    const resume = (await (await platform.fetch(worker, "/health")).json()).handlers.find((h) => h.name === "resume");
    assert.equal(resume.condition, "healthy", "the queue runs are stamped");
  });
});
