// platform-usage end to end: the test consumer's telemetry goes through the real queue to the Rust
// consumer, which trips, warns and resets breakers that the consumer then reads.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { featureReasonKey, featureStatusKey, legacyEnabledKey, middlewareProjectKey, projectStatusKey } from "./consumer/keys.mjs";
import { pollUntil } from "./harness/poll.mjs";
import { BUDGETS_KEY, budgetWarnKey, featureAutoResetKey, featureBudgetKey, featureMonthlyBudgetKey } from "./harness/platform-keys.mjs";
import { startPlatform } from "./harness/platform.mjs";
import { featureTotal } from "./harness/usage.mjs";

const WEBHOOK = "https://hooks.slack.com/services/T000/B000/platform-tests";
const USAGE = "platform-usage";
const TELEMETRY = "platform-telemetry";
const DAY_MS = 86_400_000;
const startOfNextDay = (ms) => Math.floor(ms / DAY_MS) * DAY_MS + DAY_MS;
const startOfNextMonth = (ms) => {
  const date = new Date(ms);
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
};

describe("platform-usage", () => {
  let platform;
  before(async () => {
    platform = await startPlatform({ consumer: true, secrets: { SLACK_WEBHOOK_URL: WEBHOOK }, queueBatchTimeout: 0 });
    // Budget documents are cached in the isolate for 30 s: seed them before the first batch.
    await platform.kv.put(BUDGETS_KEY, JSON.stringify({ projects: { bigco: { daily: { kv_writes: 4 } } } }));
  });
  after(() => platform?.dispose());

  const admin = async (method, path, body) => {
    const response = await platform.adminFetch(USAGE, path, {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
    });
    return { status: response.status, body: await response.json() };
  };
  // n KV writes by the test consumer (its KV steps cycle write, read, list, delete).
  const work = (feature, kvWrites) => platform.fetch("test-consumer", `/work?feature=${feature}&kv=${4 * kvWrites - 3}`);
  const total = (feature, metric) => featureTotal(platform, feature, metric);
  const counted = (feature, metric, expected) =>
    pollUntil(async () => ((await total(feature, metric)) === expected ? true : undefined), { what: `${feature} ${metric} = ${expected}` });
  const slackTexts = async (needle) =>
    (await platform.fakes.requests({ service: "slack" })).map((r) => JSON.parse(r.body).text).filter((t) => t.includes(needle));
  const sweep = (at) => platform.cron(USAGE, "*/5 * * * *", at);
  // What the consumer SDK's health() reads from the three STATUS keys: GO or STOP.
  const controlPlane = async (feature) =>
    (await (await platform.fetch("test-consumer", `/heartbeat?feature=${feature}`)).json()).controlPlane.status;
  const message = (feature, metrics, extra = {}) => {
    const [project, category, name] = feature.split(":");
    return { feature_key: feature, project, category, feature: name, metrics, timestamp: Date.now(), ...extra };
  };

  describe("daily budget", () => {
    const feature = "shop:api:search";
    it("warns at 70 and 90 %, stops the consumer within one batch, and lets it back the next UTC day", async () => {
      await platform.kv.put(featureBudgetKey(feature), JSON.stringify({ kv_writes: "1_0" }));

      assert.equal((await work(feature, 7)).status, 200);
      await counted(feature, "kv_writes", 7);
      await pollUntil(async () => ((await slackTexts(feature)).length === 1 ? true : undefined), { what: "70 % warning" });
      assert.ok(await platform.kv.get(budgetWarnKey(feature, "kv_writes", 70)));

      assert.equal((await work(feature, 2)).status, 200);
      await counted(feature, "kv_writes", 9);
      await pollUntil(async () => ((await slackTexts(feature)).length === 2 ? true : undefined), { what: "90 % warning" });

      assert.equal((await work(feature, 1)).status, 200);
      await counted(feature, "kv_writes", 10);
      const reason = await pollUntil(() => platform.kv.get(featureReasonKey(feature)).then((v) => v ?? undefined), { what: "trip" });
      assert.match(reason, /^daily budget exceeded: kv_writes = 10 of 10 \(\d{4}-\d\d-\d\d\)$/);
      assert.equal(await platform.kv.get(featureStatusKey(feature)), "STOP");
      assert.equal(await platform.kv.get(legacyEnabledKey(feature)), "false");
      const resetAt = startOfNextDay(Date.now());
      assert.equal(Date.parse(await platform.kv.get(featureAutoResetKey(feature))), resetAt);

      const refused = await work(feature, 1);
      assert.equal(refused.status, 503);
      const refusal = await refused.json();
      assert.equal(refusal.level, "feature");
      assert.equal(refusal.reason, reason);

      const texts = await slackTexts(feature);
      assert.equal(texts.length, 3, JSON.stringify(texts));
      assert.match(texts[0], /at 70%/);
      assert.match(texts[1], /at 90%/);
      assert.match(texts[2], /stopped: daily budget exceeded/);

      await sweep(resetAt - 60_000);
      assert.equal(await platform.kv.get(featureStatusKey(feature)), "STOP", "not before the day ends");
      await sweep(resetAt + 60_000);
      assert.equal(await platform.kv.get(featureStatusKey(feature)), null);
      assert.equal(await platform.kv.get(legacyEnabledKey(feature)), null);
      const events = (await admin("GET", "/events")).body.events.filter((e) => e.subject === feature).map((e) => e.event);
      assert.deepEqual(events, ["reset", "trip"]);
      assert.equal(await controlPlane(feature), "GO");
    });
  });

  describe("monthly budget", () => {
    const feature = "shop:batch:export";
    it("trips for the rest of the month and resets when the next one starts", async () => {
      await platform.kv.put(featureMonthlyBudgetKey(feature), JSON.stringify({ kv_writes: 3 }));
      await work(feature, 3);
      await pollUntil(() => platform.kv.get(featureStatusKey(feature)).then((v) => v ?? undefined), { what: "monthly trip" });
      assert.match(await platform.kv.get(featureReasonKey(feature)), /^monthly budget exceeded: kv_writes = 3 of 3/);
      const resetAt = startOfNextMonth(Date.now());
      await sweep(startOfNextDay(Date.now()) + 60_000);
      if (startOfNextDay(Date.now()) < resetAt) assert.equal(await platform.kv.get(featureStatusKey(feature)), "STOP");
      await sweep(resetAt + 60_000);
      assert.equal(await platform.kv.get(featureStatusKey(feature)), null);
    });
  });

  describe("projects", () => {
    const feature = "bigco:api:render";
    it("pause the project's consumers at its limit and resume them", async () => {
      await work(feature, 3);
      await pollUntil(async () => ((await platform.kv.get(middlewareProjectKey("bigco"))) === "warning" ? true : undefined), {
        what: "project warning",
      });
      await work(feature, 1);
      await pollUntil(async () => ((await platform.kv.get(middlewareProjectKey("bigco"))) === "paused" ? true : undefined), {
        what: "project paused",
      });
      assert.equal(await platform.kv.get(projectStatusKey("bigco")), "STOP");
      const refused = await work("bigco:cron:other", 1);
      assert.equal(refused.status, 503);
      assert.equal((await refused.json()).level, "project");
      const status = (await admin("GET", "/status")).body;
      assert.equal(status.projects.find((p) => p.project === "bigco")?.level, "paused");

      const resumed = await admin("POST", "/projects/bigco/resume");
      assert.equal(resumed.status, 200);
      assert.equal(await platform.kv.get(projectStatusKey("bigco")), null);
      assert.equal(await platform.kv.get(middlewareProjectKey("bigco")), "active");
      assert.equal(await controlPlane("bigco:cron:other"), "GO");
      const middleware = await platform.fetch("test-consumer", "/middleware?feature=bigco:cron:other");
      assert.equal(middleware.status, 200, await middleware.clone().text());
    });

    it("can be paused by an operator, and the sweep leaves a manual pause alone", async () => {
      await platform.queue(USAGE, TELEMETRY, [{ id: "ops-known", body: message("ops:cron:nightly", { kvReads: 1 }) }]);
      assert.equal((await admin("POST", "/projects/ops/pause", { reason: "incident 42" })).status, 200);
      assert.equal(await platform.kv.get(projectStatusKey("ops")), "STOP");
      assert.equal(await platform.kv.get(middlewareProjectKey("ops")), "paused");
      await sweep(Date.now() + 40 * DAY_MS);
      assert.equal(await platform.kv.get(projectStatusKey("ops")), "STOP");
      await admin("POST", "/projects/ops/resume");
      assert.equal(await platform.kv.get(projectStatusKey("ops")), null);
    });
  });

  describe("global stop", () => {
    it("stops every consumer while ingestion goes on, and releases them", async () => {
      const feature = "shop:api:cart";
      const on = await admin("POST", "/global-stop", { enabled: true, reason: "bill spike" });
      assert.equal(on.status, 200);
      assert.equal(await platform.kv.get("GLOBAL_STOP_ALL"), "true");
      assert.equal(await platform.kv.get("CONFIG:GLOBAL:STATUS"), "STOP");
      const refused = await work(feature, 1);
      assert.equal(refused.status, 503);
      assert.equal((await refused.json()).level, "global");

      const batch = await platform.queue(USAGE, TELEMETRY, [{ id: "global-1", body: message(feature, { kvWrites: 5 }) }]);
      assert.deepEqual(batch.acked, ["global-1"]);
      assert.equal(await total(feature, "kv_writes"), 5, "ingestion continues during a global stop");
      assert.equal((await admin("GET", "/status")).body.global.reason, "bill spike");

      await admin("POST", "/global-stop", { enabled: false });
      assert.equal(await platform.kv.get("GLOBAL_STOP_ALL"), null);
      assert.equal(await platform.kv.get("CONFIG:GLOBAL:STATUS"), null);
      assert.equal((await work(feature, 1)).status, 200);
    });
  });

  describe("alerts", () => {
    it("keeps an alert Slack refused and delivers it on the next sweep", async () => {
      await platform.fakes.failNext("slack", 500, { body: "internal_error" });
      assert.equal((await admin("POST", "/global-stop", { enabled: true, reason: "alert retry" })).status, 200);
      assert.equal((await slackTexts("global stop: alert retry")).length, 1, "the refused attempt reached Slack");
      assert.equal((await admin("GET", "/status")).body.alerts.pending, 1);
      await sweep(Date.now());
      assert.equal((await admin("GET", "/status")).body.alerts.pending, 0);
      assert.equal((await slackTexts("global stop: alert retry")).length, 2, "delivered once more, not forgotten");
      await admin("POST", "/global-stop", { enabled: false });
    });
  });

  describe("self-health", () => {
    it("stamps each cron run and reports every handler in /health", async () => {
      await sweep(Date.now());
      await platform.cron(USAGE, "17 * * * *", Date.now());
      const health = await (await platform.fetch(USAGE, "/health")).json();
      assert.deepEqual(health.handlers.map((h) => h.name), ["telemetry", "dead-letters", "sweep", "collect", "reconcile", "cost"]);
      const byName = Object.fromEntries(health.handlers.map((h) => [h.name, h]));
      for (const cron of ["sweep", "reconcile", "cost"]) {
        assert.equal(byName[cron].condition, "healthy");
        assert.ok(byName[cron].last_ok_at !== null, `${cron} has run`);
      }
    });
  });

  describe("manual trips and repeated trips", () => {
    it("keeps a manual disable through every sweep until an operator enables it", async () => {
      const feature = "shop:admin:import";
      await platform.queue(USAGE, TELEMETRY, [{ id: "import-known", body: message(feature, { kvReads: 1 }) }]);
      const disabled = await admin("POST", `/features/${feature}/disable`, { reason: "maintenance" });
      assert.equal(disabled.status, 200);
      assert.equal(await platform.kv.get(featureReasonKey(feature)), "maintenance");
      await sweep(Date.now() + 400 * DAY_MS);
      assert.equal(await platform.kv.get(featureStatusKey(feature)), "STOP");
      assert.equal((await work(feature, 1)).status, 503);
      await admin("POST", `/features/${feature}/enable`);
      assert.equal(await platform.kv.get(featureStatusKey(feature)), null);
      assert.equal((await work(feature, 1)).status, 200);
    });

    it("holds a feature that keeps tripping until an operator resets it", async () => {
      const feature = "loop:worker:retry";
      assert.equal((await admin("PUT", "/settings", { cb_max_consecutive_trips: 2, cb_cooldown_seconds: 86_400 })).status, 200);
      await platform.kv.put(featureBudgetKey(feature), JSON.stringify({ kv_writes: 1 }));
      await work(feature, 1);
      await pollUntil(() => platform.kv.get(featureStatusKey(feature)).then((v) => v ?? undefined), { what: "first trip" });
      // The next day's sweep resets it; today's usage is still over the limit, so the next message trips it again.
      await sweep(startOfNextDay(Date.now()) + 60_000);
      assert.equal(await platform.kv.get(featureStatusKey(feature)), null);
      await platform.queue(USAGE, TELEMETRY, [{ id: "loop-2", body: message(feature, { kvWrites: 1 }) }]);
      assert.equal(await platform.kv.get(featureStatusKey(feature)), "STOP");
      assert.match(await platform.kv.get(featureReasonKey(feature)), /held off after 2 consecutive trips/);
      assert.equal(await platform.kv.get(featureAutoResetKey(feature)), null);
      await sweep(Date.now() + 40 * DAY_MS);
      assert.equal(await platform.kv.get(featureStatusKey(feature)), "STOP", "held through every sweep");
      await admin("POST", `/features/${feature}/enable`);
      assert.equal(await platform.kv.get(featureStatusKey(feature)), null);
      await admin("PUT", "/settings", { cb_max_consecutive_trips: 3, cb_cooldown_seconds: 300 });
    });
  });

  describe("ingestion", () => {
    it("records a poison message with its reason and payload, acks it, and counts the good ones", async () => {
      const feature = "shop:api:poison";
      const batch = await platform.queue(USAGE, TELEMETRY, [
        { id: "poison-good-1", body: message(feature, { kvReads: 2 }) },
        { id: "poison-text", body: "not an object" },
        { id: "poison-key", body: message("shop:api", { kvReads: 1 }, { feature_key: "shop:api" }) },
        { id: "poison-metric", body: message(feature, { kvReads: -1 }) },
        { id: "poison-good-2", body: message(feature, { kvReads: 3 }) },
      ]);
      assert.equal(batch.outcome, "ok");
      assert.equal(batch.acked.length, 5);
      assert.deepEqual(batch.retried, []);
      assert.equal(await total(feature, "kv_reads"), 5);
      const dlq = (await admin("GET", "/dlq")).body.messages.filter((m) => m.message_id.startsWith("poison-"));
      assert.deepEqual(
        dlq.map((m) => [m.message_id, m.reason]),
        [
          ["poison-text", "$: expected a JSON object, found a string"],
          ["poison-key", 'feature_key: feature key "shop:api" has 2 part(s); expected "project:category:feature"'],
          ["poison-metric", "metrics.kvReads: -1 is negative"],
        ],
      );
      assert.equal(JSON.parse(dlq[2].payload).metrics.kvReads, -1, "the full payload is kept");
    });

    it("refuses a body with no JSON form (a cycle, a BigInt) with its reason, and counts the rest", async () => {
      const feature = "shop:api:unwritable";
      const cyclic = message(feature, { kvReads: 1 });
      cyclic.self = cyclic;
      const batch = await platform.queue(USAGE, TELEMETRY, [
        { id: "unwritable-cycle", body: cyclic },
        { id: "unwritable-bigint", body: { ...message(feature, { kvReads: 1 }), count: 10n } },
        { id: "unwritable-good", body: message(feature, { kvReads: 4 }) },
      ]);
      assert.equal(batch.outcome, "ok");
      assert.equal(batch.acked.length, 3);
      assert.equal(await total(feature, "kv_reads"), 4);
      const rejected = (await admin("GET", "/dlq")).body.messages.filter((m) => m.message_id.startsWith("unwritable-"));
      assert.deepEqual(rejected.map((m) => m.message_id), ["unwritable-cycle", "unwritable-bigint"]);
      for (const m of rejected) assert.match(m.reason, /^\$: has no JSON form: /);
    });

    it("counts a redelivered message once, and the rest of its batch", async () => {
      const feature = "shop:api:twice";
      const body = message(feature, { kvReads: 4 });
      // A redelivery keeps the message's id and the time it was sent.
      const timestamp = new Date();
      await platform.queue(USAGE, TELEMETRY, [{ id: "twice-1", body, timestamp }]);
      const again = await platform.queue(USAGE, TELEMETRY, [
        { id: "twice-1", body, timestamp },
        { id: "twice-2", body, timestamp },
      ]);
      assert.equal(again.acked.length, 2);
      assert.equal(await total(feature, "kv_reads"), 8);
      const once = await platform.queue(USAGE, TELEMETRY, [{ id: "twice-2", body, timestamp }]);
      assert.equal(once.acked.length, 1);
      assert.equal(await total(feature, "kv_reads"), 8);
    });

    it("loses nothing when D1 fails mid-batch: the batch is retried and counted once", async () => {
      const feature = "shop:api:flaky";
      const timestamp = new Date();
      const messages = [1, 2, 3].map((n) => ({ id: `flaky-${n}`, body: message(feature, { kvReads: n }), timestamp }));
      // The counting transaction fails on the missing table, so nothing of the batch is written.
      await platform.d1.exec("ALTER TABLE feature_health RENAME TO feature_health_away");
      const failed = await platform.queue(USAGE, TELEMETRY, [...messages, { id: "flaky-beat", body: message(feature, {}, { is_heartbeat: true }) }]);
      await platform.d1.exec("ALTER TABLE feature_health_away RENAME TO feature_health");
      assert.deepEqual(failed.acked, []);
      assert.equal(failed.retried.length, 4);
      assert.equal(await total(feature, "kv_reads"), 0);
      const telemetryHandler = async () =>
        (await (await platform.fetch(USAGE, "/health")).json()).handlers.find((h) => h.name === "telemetry");
      const failing = await telemetryHandler();
      assert.equal(failing.condition, "failing");
      assert.match(failing.last_error, /D1 batch failed/);
      const retried = await platform.queue(USAGE, TELEMETRY, messages);
      assert.equal(retried.acked.length, 3);
      // The next successful batch clears it, stamped inside its own transaction.
      assert.equal((await telemetryHandler()).condition, "healthy");
      await platform.queue(USAGE, TELEMETRY, messages);
      assert.equal(await total(feature, "kv_reads"), 6);
    });

    it("writes no KV key for a batch that changes no state", async () => {
      const feature = "shop:api:quiet";
      await platform.kv.put(featureBudgetKey(feature), JSON.stringify({ kv_reads: 1000 }));
      await platform.queue(USAGE, TELEMETRY, [{ id: "quiet-1", body: message(feature, { kvReads: 1 }) }]);
      const before = await platform.kv.list("");
      const batch = await platform.queue(USAGE, TELEMETRY, [
        { id: "quiet-2", body: message(feature, { kvReads: 10 }) },
        { id: "quiet-3", body: message("shop:api:unbudgeted", { kvReads: 10 }) },
      ]);
      assert.equal(batch.acked.length, 2);
      assert.deepEqual(await platform.kv.list(""), before);
    });

    it("records dead letters for replay or discard", async () => {
      const feature = "shop:api:dead";
      const dead = await platform.queue(USAGE, "platform-telemetry-dlq", [
        { id: "dead-1", body: message(feature, { kvReads: 7 }) },
        { id: "dead-2", body: message(feature, { kvReads: 1 }) },
      ]);
      assert.deepEqual(dead.acked, ["dead-1", "dead-2"]);
      const rows = (await admin("GET", "/dlq")).body.messages.filter((m) => m.message_id.startsWith("dead-"));
      assert.deepEqual(rows.map((m) => [m.kind, m.reason]), [
        ["dead_letter", "exhausted its retries on platform-telemetry"],
        ["dead_letter", "exhausted its retries on platform-telemetry"],
      ]);
      assert.deepEqual((await admin("POST", `/dlq/${rows[0].id}/replay`)).body, { id: rows[0].id, status: "replayed" });
      await counted(feature, "kv_reads", 7);
      assert.equal((await admin("POST", `/dlq/${rows[1].id}/discard`)).body.status, "discarded");
      assert.equal((await admin("POST", `/dlq/${rows[1].id}/replay`)).status, 409);
      assert.equal((await admin("POST", "/dlq/999999/discard")).status, 404);
    });
  });

  describe("admin API", () => {
    const routes = [
      ["GET", "/status"],
      ["GET", "/settings"],
      ["PUT", "/settings"],
      ["GET", "/events"],
      ["GET", "/dlq"],
      ["GET", "/features/a:b:c/usage"],
      ["POST", "/features/a:b:c/disable"],
      ["POST", "/features/a:b:c/enable"],
      ["POST", "/projects/a/pause"],
      ["POST", "/projects/a/resume"],
      ["POST", "/global-stop"],
      ["POST", "/dlq/1/replay"],
      ["POST", "/dlq/1/discard"],
    ];

    it("refuses every route without a token (401) and with a wrong one (403)", async () => {
      for (const [method, path] of routes) {
        assert.equal((await platform.fetch(USAGE, path, { method })).status, 401, `${method} ${path}`);
        const wrong = await platform.fetch(USAGE, path, { method, headers: { Authorization: "Bearer wrong" } });
        assert.equal(wrong.status, 403, `${method} ${path}`);
      }
    });

    it("answers 400 with what was wrong for malformed bodies, unknown keys and bad parameters", async () => {
      const cases = [
        ["POST", "/global-stop", "{", /invalid body/],
        ["POST", "/global-stop", JSON.stringify({ enabled: true, colour: "red" }), /unknown field `colour`/],
        ["POST", "/global-stop", JSON.stringify({}), /missing field `enabled`/],
        ["PUT", "/settings", JSON.stringify({ cb_cooldown_seconds: -5 }), /cb_cooldown_seconds/],
        ["PUT", "/settings", JSON.stringify({ colour: "red" }), /unknown setting/],
        ["POST", "/features/a:b/disable", "{}", /2 part\(s\)/],
        ["GET", "/features/a:b:c/usage?days=0", undefined, /days must be a whole number from 1 to 90/],
        ["POST", "/dlq/abc/replay", undefined, /not a message number/],
      ];
      for (const [method, path, body, error] of cases) {
        const response = await platform.adminFetch(USAGE, path, { method, body });
        assert.equal(response.status, 400, `${method} ${path}`);
        assert.match((await response.json()).error, error, `${method} ${path}`);
      }
    });

    it("reports usage per day and the status of tripped features against their budget", async () => {
      const feature = "shop:api:report";
      await platform.kv.put(featureBudgetKey(feature), JSON.stringify({ kv_reads: 5 }));
      await platform.queue(USAGE, TELEMETRY, [{ id: "report-1", body: message(feature, { kvReads: 6, d1Writes: 2 }) }]);
      const usage = (await admin("GET", `/features/${feature}/usage?days=3`)).body;
      assert.equal(usage.days.length, 1);
      assert.deepEqual(usage.days[0].metrics, { d1_writes: 2, kv_reads: 6 });
      const tripped = (await admin("GET", "/status")).body.features.find((f) => f.feature === feature);
      assert.deepEqual(tripped.usage_today, { d1_writes: 2, kv_reads: 6 });
      assert.deepEqual(tripped.daily_budget, { kv_reads: 5 });
      assert.equal(tripped.until, new Date(startOfNextDay(Date.now())).toISOString());
      assert.match(tripped.since, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.equal(tripped.manual, false);
      const event = (await admin("GET", "/events")).body.events.find((e) => e.subject === feature);
      assert.ok(Number.isInteger(event.id), JSON.stringify(event));
      assert.match(event.at, /^\d{4}-\d\d-\d\dT.*Z$/);
    });

    it("refuses an action on a feature or project it knows nothing of with a 404 that says so", async () => {
      for (const path of ["/features/nope:x:y/disable", "/features/nope:x:y/enable"]) {
        const response = await admin("POST", path, {});
        assert.equal(response.status, 404, path);
        assert.match(response.body.error, /unknown feature nope:x:y: services.yaml does not declare it/);
      }
      for (const path of ["/projects/nope/pause", "/projects/nope/resume"]) {
        const response = await admin("POST", path, {});
        assert.equal(response.status, 404, path);
        assert.match(response.body.error, /unknown project nope/);
      }
      assert.equal(await platform.kv.get(featureStatusKey("nope:x:y")), null, "nothing was written");
    });
  });
});
