// The account's own usage, end to end: platform-usage's hourly cron asks the (fake) GraphQL Analytics
// API for each dataset, stores each collected hour once in account_usage, and keeps its cursor and
// the platform's own footprint in the Usage & Sampling keys.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { startPlatform } from "./harness/platform.mjs";

const USAGE = "platform-usage";
const COLLECT = "7 * * * *";
const ACCOUNT = "0123456789abcdef0123456789abcdef";
const HOUR = 3_600_000;
// Collection runs at scheduled times chosen by the test; routes use the real clock, so the test's
// days are recent ones (within every dataset's retention).
const DAY = 86_400_000;
const T0 = Math.floor(Date.now() / DAY) * DAY - 3 * DAY;
const at = (hours, minutes = 7) => T0 + hours * HOUR + minutes * 60_000;
const iso = (ms) => new Date(ms).toISOString();
// The datasets the collector reads, one request each (platform_core::account::datasets).
const DATASETS = 19;
const KEYS = {
  cursor: "platform-usage:prev-hour:timestamp",
  state: "platform-usage:prev-hour:account",
  mode: "platform-usage:sampling-mode",
  writes: "platform-usage:d1-writes-24h",
  writesAt: "platform-usage:d1-writes-timestamp",
  gbSeconds: (project) => `platform-usage:do-gb-seconds-24h:${project}`,
};
const CONFIG = { services: { projects: { shop: { scripts: ["shop-api"], resources: ["ns-shop"] } } }, budgets: {} };

describe("account usage collection", () => {
  let platform;
  before(async () => {
    platform = await startPlatform({ secrets: { CLOUDFLARE_API_TOKEN: "cf-analytics-token", CLOUDFLARE_ACCOUNT_ID: ACCOUNT } });
  });
  after(() => platform?.dispose());

  const program = (node, program) => platform.fakes.programAnalytics(ACCOUNT, node, program);
  const collect = (ms) => platform.cron(USAGE, COLLECT, ms);
  const graphqlRequests = async () =>
    (await platform.fakes.requests({ service: "cloudflare" })).filter((r) => r.url.endsWith("/graphql")).map((r) => JSON.parse(r.body));
  const rows = (where = "1 = 1", ...params) =>
    platform.d1.all(`SELECT hour_at, dataset, lines, sample_interval FROM account_usage WHERE ${where} ORDER BY hour_at, dataset`, ...params);
  const health = async () => (await (await platform.fetch(USAGE, "/health")).json()).warnings;
  const admin = async (method, path) => {
    const response = await platform.adminFetch(USAGE, path, { method });
    return { status: response.status, body: await response.json() };
  };
  const programAccount = async ({ platformWrites = 5 } = {}) => {
    await program("workersInvocationsAdaptive", {
      groups: [
        { dimensions: { scriptName: "shop-api" }, sum: { requests: 100, errors: 2, subrequests: 3 }, quantiles: { cpuTimeP50: 1500 }, avg: { sampleInterval: 10 } },
        { dimensions: { scriptName: "stray-worker" }, sum: { requests: 7, errors: 0, subrequests: 0 }, quantiles: { cpuTimeP50: 0 }, avg: { sampleInterval: 1 } },
      ],
    });
    await program("kvOperationsAdaptiveGroups", {
      groups: [{ dimensions: { namespaceId: "ns-shop", actionType: "write" }, sum: { requests: 40 }, avg: { sampleInterval: 1 } }],
    });
    await program("d1AnalyticsAdaptiveGroups", {
      groups: [{ dimensions: { databaseId: "platform-db" }, sum: { rowsRead: 10, rowsWritten: platformWrites, readQueries: 2, writeQueries: 1 }, avg: { sampleInterval: 1 } }],
    });
    await program("r2OperationsAdaptiveGroups", {
      groups: [
        { dimensions: { bucketName: "media", actionType: "PutObject" }, sum: { requests: 4 }, avg: { sampleInterval: 1 } },
        { dimensions: { bucketName: "media", actionType: "GetObject" }, sum: { requests: 9 }, avg: { sampleInterval: 1 } },
      ],
    });
    await program("durableObjectsPeriodicGroups", {
      groups: [{ dimensions: { scriptName: "shop-api" }, sum: { duration: 250, rowsRead: 0, rowsWritten: 0 } }],
    });
  };

  beforeEach(async () => {
    await platform.fakes.reset();
    for (const { name } of await platform.kv.list("platform-usage:")) await platform.kv.delete(name);
    await platform.d1.exec("DELETE FROM account_usage");
    await platform.d1.exec("DELETE FROM config_history");
    await platform.d1.exec(
      "INSERT INTO config_history (version, applied_at, document, summary, kv_total, kv_done, runs) VALUES ('v1', 0, ?, '{}', 0, 0, 1)",
      JSON.stringify(CONFIG),
    );
    await programAccount();
  });

  it("collects an hour once, one request per dataset, even when the cron fires twice", async () => {
    await collect(at(10));
    const requests = await graphqlRequests();
    assert.equal(requests.length, DATASETS);
    assert.ok(requests.every((r) => r.variables.account === ACCOUNT));
    const workers = requests.find((r) => r.query.includes("workersInvocationsAdaptive"));
    assert.deepEqual([workers.variables.from, workers.variables.to], [iso(at(9, 0)), iso(at(10, 0))]);
    const d1 = requests.find((r) => r.query.includes("d1AnalyticsAdaptiveGroups"));
    const day = iso(T0).slice(0, 10);
    assert.deepEqual([d1.variables.from, d1.variables.to], [day, day], "date-only datasets take dates");

    const stored = await rows();
    assert.equal(stored.length, DATASETS, "one row per dataset for the hour");
    assert.ok(stored.every((row) => row.hour_at === at(9, 0)));
    const workersRow = stored.find((row) => row.dataset === "workers");
    assert.equal(workersRow.sample_interval, 5.5, "the mean sample interval is kept");
    const lines = JSON.parse(workersRow.lines);
    assert.deepEqual(lines.find(([metric, resource]) => metric === "workers.requests" && resource === "shop-api"), ["workers.requests", "shop-api", "shop", 100]);
    assert.deepEqual(lines.find(([metric, resource]) => metric === "workers.requests" && resource === "stray-worker"), ["workers.requests", "stray-worker", null, 7]);
    const r2 = JSON.parse(stored.find((row) => row.dataset === "r2_operations").lines);
    assert.deepEqual(r2.map(([metric, , , amount]) => [metric, amount]), [["r2.class_a", 4], ["r2.class_b", 9]]);
    assert.equal(await platform.kv.get(KEYS.cursor), iso(at(10, 0)));

    await collect(at(10, 40));
    assert.equal((await graphqlRequests()).length, DATASETS, "the second run sends nothing");
    assert.equal((await rows()).length, DATASETS);
  });

  it("re-collecting an hour replaces it instead of adding to it", async () => {
    await collect(at(10));
    await program("kvOperationsAdaptiveGroups", {
      groups: [{ dimensions: { namespaceId: "ns-shop", actionType: "write" }, sum: { requests: 41 }, avg: { sampleInterval: 1 } }],
    });
    const backfill = await admin("POST", `/usage/backfill?from=${iso(at(9, 0))}&to=${iso(at(10, 0))}`);
    assert.equal(backfill.status, 200, JSON.stringify(backfill.body));
    assert.equal(backfill.body.collected.length, DATASETS);
    const kv = await rows("dataset = 'kv_operations'");
    assert.equal(kv.length, 1);
    assert.deepEqual(JSON.parse(kv[0].lines), [["kv.writes", "ns-shop", "shop", 41]]);
    assert.equal(await platform.kv.get(KEYS.cursor), iso(at(10, 0)), "a backfill leaves the cursor alone");
  });

  it("backfills a missed day in one request per dataset", async () => {
    await collect(at(10));
    await collect(at(34)); // the cron was silent for a day
    const requests = await graphqlRequests();
    assert.equal(requests.length, 2 * DATASETS);
    const last = requests.at(-1 * DATASETS);
    assert.deepEqual([last.variables.from, last.variables.to], [iso(at(10, 0)), iso(at(34, 0))]);
    const hours = await rows("dataset = 'workers'");
    assert.deepEqual(hours.map((row) => row.hour_at), Array.from({ length: 25 }, (_, i) => at(9 + i, 0)));
    assert.equal((await rows()).length, 25 * DATASETS);
    assert.equal(await platform.kv.get(KEYS.cursor), iso(at(34, 0)));
  });

  it("a failing dataset leaves the others collected, is shown in /health and catches up", async () => {
    await program("kvOperationsAdaptiveGroups", { status: 502, body: "upstream connect error", count: 1 });
    await program("r2OperationsAdaptiveGroups", { fieldError: "cannot query field sum on r2OperationsAdaptiveGroups", count: 1 });
    await collect(at(10));
    const datasets = (await rows()).map((row) => row.dataset);
    assert.equal(datasets.length, DATASETS - 2);
    assert.ok(!datasets.includes("kv_operations") && !datasets.includes("r2_operations"));
    const state = JSON.parse(await platform.kv.get(KEYS.state));
    assert.deepEqual(state.behind, { kv_operations: at(9, 0), r2_operations: at(9, 0) });
    assert.match(state.failures.kv_operations.reason, /HTTP 502/);
    assert.match(state.failures.r2_operations.reason, /cannot query field sum/);
    const warnings = await health();
    assert.ok(warnings.some((w) => w.includes("kv_operations") && w.includes("HTTP 502")), JSON.stringify(warnings));

    await collect(at(11));
    const kv = await rows("dataset = 'kv_operations'");
    assert.deepEqual(kv.map((row) => row.hour_at), [at(9, 0), at(10, 0)], "the missed hour is collected with the next");
    assert.equal(await platform.kv.get(KEYS.state), "{}", "the state says nothing is behind");
    assert.ok(!(await health()).some((w) => w.includes("failed")), "no failure left");
  });

  it("gives up on a dataset the API does not answer within 15 s, and collects the others in the same run", async () => {
    await program("kvOperationsAdaptiveGroups", { delayMs: 30_000, count: 1 });
    const started = Date.now();
    await collect(at(10));
    const took = Date.now() - started;
    assert.ok(took < 25_000, `the run took ${took} ms with one dataset hanging 30 s`);
    const datasets = (await rows()).map((row) => row.dataset);
    assert.equal(datasets.length, DATASETS - 1);
    assert.ok(!datasets.includes("kv_operations"));
    const state = JSON.parse(await platform.kv.get(KEYS.state));
    assert.match(state.failures.kv_operations.reason, /no answer within 15 s/);
    await collect(at(11));
    assert.equal((await rows("dataset = 'kv_operations'")).length, 2, "the hour it missed is collected with the next");
  });

  it("waits as long as a 429's Retry-After asks, then collects what it missed", async () => {
    // The wait is shown against the real clock: this test's hours are the current ones.
    const hour = Math.floor(Date.now() / HOUR) * HOUR;
    await platform.fakes.failNext("cloudflare", 429, { headers: { "retry-after": "3600" }, body: { errors: [{ message: "rate limited" }] } });
    await collect(hour + 7 * 60_000);
    assert.equal((await graphqlRequests()).length, 1, "nothing more is sent after a 429");
    assert.equal((await rows()).length, 0);
    const state = JSON.parse(await platform.kv.get(KEYS.state));
    assert.equal(state.retry_after, hour + 7 * 60_000 + 3_600_000);
    assert.ok((await health()).some((w) => w.includes("asked to wait until")));

    await collect(hour + 50 * 60_000);
    assert.equal((await graphqlRequests()).length, 1, "still waiting");
    await collect(hour + HOUR + 7 * 60_000);
    assert.equal((await graphqlRequests()).length, 1 + DATASETS);
    const workers = await rows("dataset = 'workers'");
    assert.deepEqual(workers.map((row) => row.hour_at), [hour - HOUR, hour]);
  });

  it("writes the platform's own footprint and slows collection as its D1 writes near the limit, then speeds up", async () => {
    const put = await platform.adminFetch(USAGE, "/settings", {
      method: "PUT",
      body: JSON.stringify({ d1_write_limit: "100" }),
      headers: { "content-type": "application/json" },
    });
    assert.equal(put.status, 200, await put.text());
    await programAccount({ platformWrites: 70 });
    await collect(at(1));
    assert.equal(await platform.kv.get(KEYS.writes), "70");
    assert.equal(await platform.kv.get(KEYS.writesAt), iso(at(1)));
    assert.equal(await platform.kv.get(KEYS.mode), "HALF", "70 % of the limit");
    assert.equal(Number(await platform.kv.get(KEYS.gbSeconds("shop"))), 250);

    const status = await admin("GET", "/status");
    assert.equal(status.body.account_usage.sampling_mode, "HALF");
    assert.equal(status.body.account_usage.d1_writes_24h, 70);
    assert.equal(status.body.account_usage.d1_writes_percent, 70);
    assert.deepEqual(status.body.account_usage.do_gb_seconds_24h, { shop: 250 });

    await programAccount({ platformWrites: 0 });
    const before = (await graphqlRequests()).length;
    await collect(at(3));
    assert.equal((await graphqlRequests()).length, before, "HALF skips odd hours");
    await collect(at(4));
    assert.equal((await graphqlRequests()).length, before + DATASETS, "and covers them at the next even hour");
    assert.equal(await platform.kv.get(KEYS.mode), "HALF", "the 70 rows are still within 24 hours");
    await collect(at(26));
    assert.equal(await platform.kv.get(KEYS.writes), "0");
    assert.equal(await platform.kv.get(KEYS.mode), "FULL", "back to every hour");
    await platform.adminFetch(USAGE, "/settings", {
      method: "PUT",
      body: JSON.stringify({ d1_write_limit: "1000000" }),
      headers: { "content-type": "application/json" },
    });
  });

  it("reports the collected usage by product, project and script, with units and exactness", async () => {
    await collect(at(10));
    const byProject = await admin("GET", `/usage/account?from=${iso(at(9, 0))}&to=${iso(at(10, 0))}&by=project`);
    assert.equal(byProject.status, 200, JSON.stringify(byProject.body));
    const row = (body, group, metric) => body.rows.find((r) => r.group === group && r.metric === metric);
    assert.deepEqual(row(byProject.body, "shop", "workers.requests"), {
      group: "shop", metric: "workers.requests", unit: "count", amount: 100, aggregation: "sum", exact: false, max_sample_interval: 5.5,
    });
    assert.equal(row(byProject.body, "(unattributed)", "workers.requests").amount, 7);
    assert.equal(byProject.body.hours_collected.workers, 1);
    const [day, next] = [iso(T0).slice(0, 10), iso(T0 + DAY).slice(0, 10)];
    const byProduct = await admin("GET", `/usage/account?from=${day}&to=${next}&by=product`);
    assert.equal(row(byProduct.body, "workers", "workers.requests").amount, 107);
    const byScript = await admin("GET", `/usage/account?from=${day}&to=${next}&by=script`);
    assert.equal(row(byScript.body, "media", "r2.class_b").amount, 9);

    assert.equal((await admin("GET", "/usage/account?by=feature")).status, 400);
    assert.equal((await admin("GET", "/usage/account?from=2026-01-01&to=2026-03-01")).status, 400, "more than 31 days");
    assert.equal((await platform.fetch(USAGE, "/usage/account")).status, 401);
    assert.equal((await admin("POST", `/usage/backfill?from=${day}`)).status, 400, "to is required");
    const tooLong = await admin("POST", `/usage/backfill?from=${day}&to=${iso(T0 + 2 * DAY).slice(0, 10)}`);
    assert.equal(tooLong.status, 400);
    assert.match(tooLong.body.error ?? JSON.stringify(tooLong.body), /at most 24 hours/);
  });
});

describe("account usage collection without credentials or access", () => {
  it("says what is missing in /health and never fails the cron", async () => {
    const platform = await startPlatform({ workers: [USAGE] });
    try {
      const { outcome } = await platform.cron(USAGE, COLLECT, at(10));
      assert.equal(outcome, "ok");
      assert.equal((await platform.fakes.requests({ service: "cloudflare" })).length, 0);
      const health = await (await platform.fetch(USAGE, "/health")).json();
      assert.ok(health.warnings.some((w) => w.includes("CLOUDFLARE_API_TOKEN is not set")), JSON.stringify(health.warnings));
    } finally {
      await platform.dispose();
    }
  });

  it("an account the token cannot see fails every dataset with what to do", async () => {
    const other = "ffffffffffffffffffffffffffffffff";
    const platform = await startPlatform({ workers: [USAGE], secrets: { CLOUDFLARE_API_TOKEN: "t", CLOUDFLARE_ACCOUNT_ID: other } });
    try {
      await platform.cron(USAGE, COLLECT, at(10));
      const state = JSON.parse(await platform.kv.get(KEYS.state));
      assert.equal(Object.keys(state.failures).length, DATASETS);
      assert.match(state.failures.workers.reason, /Account Analytics: Read/);
      assert.equal(await platform.kv.get(KEYS.cursor), iso(at(10, 0)), "the cursor moves; every dataset stays behind");
    } finally {
      await platform.dispose();
    }
  });
});
