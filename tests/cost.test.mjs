// Cost end to end: account usage rows (as the collector writes them) billed by the real wasm against
// the price catalogue, the plan and billed actual read from the fake Cloudflare API, dollar budgets
// tripping through both breaker contracts, and the Free plan's daily limits.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { checkFeatureBreaker } from "./consumer/circuit-breaker.mjs";
import { checkProjectBreaker } from "./consumer/middleware.mjs";
import { featureStatusKey, legacyEnabledKey, middlewareProjectKey, projectStatusKey } from "./consumer/keys.mjs";
import { BUDGETS_KEY, featureBudgetKey } from "./harness/platform-keys.mjs";
import { startPlatform } from "./harness/platform.mjs";
import { featureTotal } from "./harness/usage.mjs";

const USAGE = "platform-usage";
const TELEMETRY = "platform-telemetry";
const HOURLY = "17 * * * *";
const SWEEP = "*/5 * * * *";
const ACCOUNT = "0123456789abcdef0123456789abcdef";
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const PRICING_KEY = "platform-usage:pricing:v1";
const startOfDay = (ms) => Math.floor(ms / DAY_MS) * DAY_MS;
const at = (iso) => Date.parse(iso);

describe("cost", () => {
  let platform;
  before(async () => {
    platform = await startPlatform({
      workers: ["platform-usage"],
      secrets: { CLOUDFLARE_API_TOKEN: "cf-token", CLOUDFLARE_ACCOUNT_ID: ACCOUNT },
      queueBatchTimeout: 0,
    });
    // Budget documents are cached in the isolate for 30 s: seed them before the first read.
    await platform.kv.put(
      BUDGETS_KEY,
      JSON.stringify({
        projects: { shop: { daily: { cost_usd: 1 } }, mail: { daily: { cost_usd: 3 } } },
        account: { monthly: { cost_usd: 20 } },
        pricing: { stop_at_limit: true, recover_pct: 90 },
      }),
    );
  });
  after(() => platform?.dispose());

  const admin = async (path) => {
    const response = await platform.adminFetch(USAGE, path);
    return { status: response.status, body: await response.json() };
  };
  // One account_usage row, as the collector stores it: [metric, resource, project|null, amount].
  const seedHour = (hourAt, dataset, lines) =>
    platform.d1.exec(
      "INSERT OR REPLACE INTO account_usage (hour_at, dataset, lines, sample_interval, collected_at) VALUES (?, ?, ?, 1, ?)",
      hourAt,
      dataset,
      JSON.stringify(lines),
      hourAt + HOUR_MS,
    );
  const paid = () =>
    platform.fakes.setCloudflareResponse({
      match: `GET /client/v4/accounts/${ACCOUNT}/subscriptions`,
      result: [
        {
          id: "sub-1",
          rate_plan: { id: "workers_paid", public_name: "Workers Paid" },
          current_period_start: "2026-11-01T00:00:00Z",
          current_period_end: "2026-12-01T00:00:00Z",
          state: "Paid",
        },
      ],
    });
  const costAlerts = () => platform.d1.all("SELECT subject, text FROM alert_outbox WHERE kind = 'cost' ORDER BY id");
  let sent = 0;
  // Each message its own id: a repeated id is a redelivery, counted once.
  const telemetry = (feature, extra) =>
    platform.queue(USAGE, TELEMETRY, [
      { id: `cost-${++sent}`, body: { feature_key: feature, metrics: {}, timestamp: Date.now(), ...extra } },
    ]);

  it("answers /cost only to the operator", async () => {
    assert.equal((await platform.fetch(USAGE, "/cost")).status, 401);
    const bad = await admin("/cost?period=week");
    assert.equal(bad.status, 400);
    assert.match(bad.body.error ?? JSON.stringify(bad.body), /expected day or month/);
  });

  it("bills a known month as by hand, beside the billed actual", async () => {
    await paid();
    await platform.fakes.setCloudflareResponse({
      match: `GET /client/v4/accounts/${ACCOUNT}/billable-usage?from=2026-03-01&to=2026-03-31`,
      result: [
        { ServiceName: "Workers Standard", ContractedCost: 6.61 },
        { ServiceName: "D1", ContractedCost: 10 },
      ],
    });
    await seedHour(at("2026-03-02T10:00:00Z"), "workers", [
      ["workers.requests", "shop-api", "shop", 8e6],
      ["workers.requests", "blog-web", "blog", 4e6],
      ["workers.cpu_ms", "shop-api", "shop", 20e6],
    ]);
    await seedHour(at("2026-03-05T10:00:00Z"), "kv_operations", [
      ["kv.writes", "ns-shop", "shop", 1.5e6],
      ["kv.reads", "ns-blog", "blog", 5e6],
    ]);
    await seedHour(at("2026-03-10T10:00:00Z"), "d1", [
      ["d1.rows_read", "db-blog", "blog", 30e9],
      ["d1.rows_written", "db-blog", "blog", 10e6],
    ]);
    await seedHour(at("2026-03-10T10:00:00Z"), "durable_objects", [["durable_objects.gb_seconds", "Counter", null, 600_000]]);
    await seedHour(at("2026-03-20T10:00:00Z"), "workers", [
      ["workers.requests", "shop-api", "shop", 3e6],
      ["workers.cpu_ms", "shop-api", "shop", 15e6],
    ]);
    assert.equal((await platform.cron(USAGE, HOURLY)).outcome, "ok");
    const cached = JSON.parse(await platform.kv.get(PRICING_KEY));
    assert.equal(cached.source, "subscriptions");
    assert.equal(cached.plan, "paid");

    const { status, body } = await admin("/cost?period=month&at=2026-03-15");
    assert.equal(status, 200, JSON.stringify(body));
    assert.deepEqual(body.period, { kind: "month", start: "2026-03-01T00:00:00.000Z", end: "2026-04-01T00:00:00.000Z" });
    // By hand: $5 subscription; 15 M requests, 5 M over at $0.30/M = $1.50; 35 M CPU-ms, 5 M over at
    // $0.02/M = $0.10; 1.5 M KV writes, 0.5 M over at $5/M = $2.50; 30 B D1 rows read, 5 B over at
    // $0.001/M = $5.00; 600,000 DO GB-s, 200,000 over at $12.50/M = $2.50. Total $16.60.
    assert.ok(Math.abs(body.estimate_usd - 16.6) < 0.01, `estimate ${body.estimate_usd}`);
    assert.equal(body.forecast_usd, body.estimate_usd, "a closed period's forecast is its bill");
    assert.equal(body.actual_usd, 16.61);
    assert.equal(body.basis, "billing");
    assert.equal(body.budget_usd, 20);
    // Allowances are netted over the month: the day that crossed one pays.
    assert.deepEqual(
      body.by_day.map(({ date, usd }) => [date, usd]),
      [
        ["2026-03-02", 0.6],
        ["2026-03-05", 2.5],
        ["2026-03-10", 7.5],
        ["2026-03-20", 1],
      ],
    );
    const product = (name) => body.by_product.find((p) => p.product === name)?.usd;
    assert.deepEqual([product("workers"), product("kv"), product("d1"), product("durable_objects")], [1.6, 2.5, 5, 2.5]);
    assert.deepEqual(body.top.projects, [
      { project: "blog", usd: 5.2 },
      { project: "shop", usd: 3.9 },
      { project: "(unattributed)", usd: 2.5 },
    ]);

    const march10 = (await admin("/cost?period=day&at=2026-03-10")).body;
    assert.equal(march10.estimate_usd, 7.5);
    assert.equal(march10.period.start, "2026-03-10T00:00:00.000Z");
  });

  it("says the figure is an estimate when the token cannot read the bill", async () => {
    await platform.fakes.failNext("cloudflare", 403, {
      body: { success: false, errors: [{ code: 10000, message: "Authentication error" }], messages: [], result: null },
    });
    const { body } = await admin("/cost?period=month&at=2026-03-15");
    assert.equal(body.actual_usd, null);
    assert.equal(body.basis, "estimate");
    assert.match(body.actual_note, /Billing > Read/);
  });

  it("counts external costs toward a feature's dollar budget and stops it", async () => {
    const feature = "lab:ai:summarise";
    await platform.kv.put(featureBudgetKey(feature), JSON.stringify({ cost_usd: 2 }));
    await telemetry(feature, { external_cost_usd: 1.5, error_count: 2 });
    assert.equal(await featureTotal(platform, feature, "external_cost_usd"), 1.5);
    assert.equal(await featureTotal(platform, feature, "errors"), 2);
    assert.equal(await platform.kv.get(featureStatusKey(feature)), null);
    await telemetry(feature, { external_cost_usd: 0.75 });
    assert.equal(await platform.kv.get(featureStatusKey(feature)), "STOP");
    assert.equal(await platform.kv.get(legacyEnabledKey(feature)), "false");
  });

  it("trips a project over its dollar budget through both contracts and lets it back the next day", async () => {
    const feature = "shop:api:pay";
    await telemetry(feature, { external_cost_usd: 0.4 });
    assert.notEqual(await platform.kv.get(middlewareProjectKey("shop")), "paused");
    await telemetry(feature, { external_cost_usd: 0.7 });
    assert.equal(await platform.kv.get(middlewareProjectKey("shop")), "paused");
    assert.equal(await platform.kv.get(projectStatusKey("shop")), "STOP");

    assert.equal((await platform.cron(USAGE, SWEEP, startOfDay(Date.now()) + DAY_MS + 60_000)).outcome, "ok");
    assert.equal(await platform.kv.get(middlewareProjectKey("shop")), "active");
    assert.equal(await platform.kv.get(projectStatusKey("shop")), null);
  });

  it("warns once as the Free plan's KV write limit comes near, pauses the project at it and resumes it the next day", async () => {
    await platform.fakes.setCloudflareResponse({ match: `GET /client/v4/accounts/${ACCOUNT}/subscriptions`, result: [] });
    const noon = startOfDay(Date.now()) + 12 * HOUR_MS;
    const day = new Date(noon).toISOString().slice(0, 10);
    await seedHour(noon - HOUR_MS, "kv_operations", [["kv.writes", "ns-scan", "scan", 800]]);
    for (const minutes of [17, 77]) {
      assert.equal((await platform.cron(USAGE, HOURLY, noon + minutes * 60_000)).outcome, "ok");
    }
    assert.equal(JSON.parse(await platform.kv.get(PRICING_KEY)).plan, "free");
    let alerts = (await costAlerts()).filter((a) => a.subject.startsWith("free:"));
    assert.deepEqual(
      alerts.map((a) => a.subject),
      [`free:kv.writes:${day}:70`],
      "one warning however often the guard runs",
    );
    assert.match(alerts[0].text, /kv\.writes = 800 of 1000 per day/);
    assert.equal(await platform.kv.get(middlewareProjectKey("scan")), null);

    await seedHour(noon, "kv_operations", [["kv.writes", "ns-scan", "scan", 250]]);
    await platform.cron(USAGE, HOURLY, noon + HOUR_MS + 17 * 60_000);
    assert.equal(await platform.kv.get(middlewareProjectKey("scan")), "paused");
    assert.equal(await platform.kv.get(projectStatusKey("scan")), "STOP");
    alerts = (await costAlerts()).filter((a) => a.subject.startsWith("free:"));
    assert.deepEqual(alerts.map((a) => a.subject), [`free:kv.writes:${day}:70`, `free:kv.writes:${day}:100`]);

    // Still over the recover mark an hour later: no flapping.
    await platform.cron(USAGE, HOURLY, noon + 2 * HOUR_MS + 17 * 60_000);
    assert.equal(await platform.kv.get(middlewareProjectKey("scan")), "paused");
    // The next UTC day the count starts again, under the mark: the project runs again.
    await platform.cron(USAGE, HOURLY, noon + DAY_MS + 17 * 60_000);
    assert.equal(await platform.kv.get(middlewareProjectKey("scan")), "active");
    assert.equal(await platform.kv.get(projectStatusKey("scan")), null);
  });

  it("warns once when the month-end forecast exceeds the account's monthly budget", async () => {
    await paid();
    const now = Date.now();
    const hour = now - (now % HOUR_MS) - HOUR_MS;
    // 4 M KV writes so far this month: $15 over the allowance, more by the month's end.
    await seedHour(hour, "kv_operations", [["kv.writes", "ns-shop", "shop", 4e6]]);
    await platform.cron(USAGE, HOURLY, now);
    await platform.cron(USAGE, HOURLY, now + 60_000);
    const forecasts = (await costAlerts()).filter((a) => a.subject.startsWith("account:forecast:"));
    assert.equal(forecasts.length, 1, JSON.stringify(await costAlerts()));
    assert.match(forecasts[0].text, /month-end forecast \$\d+\.\d\d exceeds the \$20 budget/);
    const month = (await admin("/cost?period=month")).body;
    assert.ok(month.forecast_usd >= month.estimate_usd, JSON.stringify(month));
    assert.ok(month.estimate_usd >= 20, `estimate ${month.estimate_usd}`);
  });

  it("stops a project whose dollar budget the account's own usage spends, for the consumer through both contracts, until the next day", async () => {
    await paid();
    const feature = "mail:api:send";
    const now = Date.now();
    // Telemetry saw $0.50 of KV writes; the account saw 700,000 writes by mail's namespace: $3.50.
    await telemetry(feature, { metrics: { kvWrites: 100_000 } });
    await seedHour(startOfDay(now), "kv_operations", [["kv.writes", "ns-mail", "mail", 700_000]]);
    // The consumer's own checks (consumer-protocol.md §2.1, §2.4) over the shared cache.
    const kv = { get: (key) => platform.kv.get(key) };
    const middleware = async () => (await checkProjectBreaker(kv, "mail")).blocked?.status ?? 200;
    const sdk = () => checkFeatureBreaker(kv, feature).then(() => "GO", (error) => `${error.level}: ${error.reason}`);
    assert.equal(await middleware(), 200);
    assert.equal(await sdk(), "GO");

    assert.equal((await platform.cron(USAGE, HOURLY, now)).outcome, "ok");
    assert.equal(await platform.kv.get(middlewareProjectKey("mail")), "paused");
    assert.equal(await platform.kv.get(projectStatusKey("mail")), "STOP");
    assert.equal(await middleware(), 503);
    assert.match(await sdk(), /^project: /);
    const [event] = (await admin("/events?limit=5")).body.events.filter((e) => e.subject === "mail");
    assert.match(event.reason, /cost_usd = 3\.5\d* of 3 .*with the account's own usage/);

    // Telemetry alone is under the budget: the queue consumer leaves the pause alone, and a second
    // guard run changes nothing.
    await telemetry(feature, { metrics: { kvWrites: 1 } });
    await platform.cron(USAGE, HOURLY, now + 60_000);
    assert.equal(await platform.kv.get(middlewareProjectKey("mail")), "paused");
    const pauses = (await admin("/events?limit=50")).body.events.filter((e) => e.subject === "mail" && e.event === "paused");
    assert.equal(pauses.length, 1, "paused once");

    assert.equal((await platform.cron(USAGE, SWEEP, startOfDay(now) + DAY_MS + 60_000)).outcome, "ok");
    assert.equal(await platform.kv.get(middlewareProjectKey("mail")), "active");
    assert.equal(await platform.kv.get(projectStatusKey("mail")), null);
    assert.equal(await middleware(), 200);
    assert.equal(await sdk(), "GO");
  });
});
