// platform-usage, sync-config and the alert outbox under bad input, faults and races: no message sinks
// its batch, no bad row stops a sweep, no body is read past its bound, no apply mixes with another, no
// alert is posted twice, and a webhook Slack has removed is told once, elsewhere.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { parse } from "smol-toml";
import { featureStatusKey } from "./consumer/keys.mjs";
import { pollUntil } from "./harness/poll.mjs";
import { startPlatform } from "./harness/platform.mjs";
import { featureTotal } from "./harness/usage.mjs";

const WEBHOOK = "https://hooks.slack.com/services/T000/B000/reliability";
const NOTIFY_TOKEN = "notify-token-for-reliability";
const USAGE = "platform-usage";
const SYNC = "platform-sync-config";
const TELEMETRY = "platform-telemetry";
const DLQ = "platform-telemetry-dlq";
const SWEEP = "*/5 * * * *";
const RECONCILE = "17 * * * *";
// Where platform-usage's dead-letter producer sends, here: a capture, so a copy sent again is seen
// (and delivered by the test, once D1 is back) instead of reaching the consumer at once.
const RESENT = "resent-dead-letters";
const RESENT_CAPTURE = "resent-capture";
const resentCapture = {
  name: RESENT_CAPTURE,
  modules: true,
  script: `const held = [];
export default {
  queue(batch) { for (const message of batch.messages) { held.push(message.body); message.ack(); } },
  fetch() { return Response.json(held.splice(0)); },
};`,
  compatibilityDate: "2026-04-01",
  queueConsumers: { [RESENT]: { maxBatchTimeout: 0 } },
};

describe("reliability of platform-usage, sync-config and alerts", () => {
  let platform;
  before(async () => {
    platform = await startPlatform({
      secrets: { SLACK_WEBHOOK_URL: WEBHOOK, NOTIFY_TOKEN },
      queueBatchTimeout: 0,
      bindingsOf: { [USAGE]: { queueProducers: { PLATFORM_TELEMETRY_DLQ: RESENT } } },
      extraWorkers: [resentCapture],
    });
  });
  after(() => platform?.dispose());

  const admin = async (worker, method, path, body, headers = {}) => {
    const response = await platform.adminFetch(worker, path, { method, body, headers });
    const text = await response.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: response.status, body: json };
  };
  const message = (feature, metrics, extra = {}) => ({ feature_key: feature, metrics, timestamp: Date.now(), ...extra });
  const rejectsOf = async (prefix) =>
    (await platform.d1.all("SELECT message_id, reason FROM telemetry_rejects WHERE message_id LIKE ? ORDER BY id", `${prefix}%`)).map(
      (row) => [row.message_id, row.reason],
    );
  const slackTexts = async (needle) =>
    (await platform.fakes.requests({ service: "slack" })).map((r) => JSON.parse(r.body).text).filter((t) => t.includes(needle));

  describe("telemetry", () => {
    it("isolates a feature key too long for its KV keys, and an amount that would overflow a total", async () => {
      const feature = "rel:api:good";
      const long = `rel:api:${"x".repeat(482)}`;
      const batch = await platform.queue(USAGE, TELEMETRY, [
        { id: "iso-long", body: message(long, { kvReads: 1 }) },
        { id: "iso-huge-1", body: message(feature, { kvReads: 1e308 }) },
        { id: "iso-huge-2", body: message(feature, { kvReads: 1e308 }) },
        { id: "iso-good", body: message(feature, { kvReads: 5 }) },
      ]);
      assert.equal(batch.outcome, "ok");
      assert.equal(batch.acked.length, 4);
      assert.equal(await featureTotal(platform, feature, "kv_reads"), 5);
      const rejects = await rejectsOf("iso-");
      assert.deepEqual(rejects.map(([id]) => id), ["iso-long", "iso-huge-1", "iso-huge-2"]);
      assert.match(rejects[0][1], /^feature_key: feature key is 490 bytes; at most 256 are allowed/);
      assert.match(rejects[1][1], /^metrics\.kvReads: is more than one message may report \(1e15\)/);
    });

    it("ignores and reports an unknown metric that is not a number, and counts the known ones", async () => {
      const feature = "rel:api:newer-sdk";
      const batch = await platform.queue(USAGE, TELEMETRY, [
        { id: "sdk-1", body: message(feature, { kvReads: 3, d1Writes: 1, aiTokenBreakdown: { in: 5 }, gpuMode: "fast" }) },
      ]);
      assert.equal(batch.acked.length, 1);
      assert.equal(await featureTotal(platform, feature, "kv_reads"), 3);
      assert.equal(await featureTotal(platform, feature, "d1_writes"), 1);
      assert.deepEqual(await rejectsOf("sdk-"), []);
    });

    it("counts an error count sent both beside and inside metrics once, and refuses the two when they differ", async () => {
      const feature = "rel:api:mirrored";
      const batch = await platform.queue(USAGE, TELEMETRY, [
        { id: "twice-same", body: message(feature, { kvReads: 1, errorCount: 2 }, { error_count: 2 }) },
        { id: "twice-differ", body: message(feature, { kvReads: 1, errorCount: 1 }, { error_count: 4 }) },
      ]);
      assert.equal(batch.acked.length, 2);
      assert.equal(await featureTotal(platform, feature, "errors"), 2, "not 4: the one amount, once");
      assert.equal(await featureTotal(platform, feature, "kv_reads"), 1, "the refused message counts nothing");
      const rejects = await rejectsOf("twice-");
      assert.deepEqual(rejects.map(([id]) => id), ["twice-differ"]);
      assert.equal(rejects[0][1], "error_count: is 4 but metrics.errorCount is 1: send the amount once");
    });

    it("refuses timestamps from 1970, the year 3000 or in seconds, saying which", async () => {
      const feature = "rel:api:clock";
      const now = Date.now();
      const batch = await platform.queue(USAGE, TELEMETRY, [
        { id: "clock-1970", body: message(feature, { kvReads: 1 }, { timestamp: 1 }) },
        { id: "clock-3000", body: message(feature, { kvReads: 1 }, { timestamp: Date.UTC(3000, 0, 1) }) },
        { id: "clock-seconds", body: message(feature, { kvReads: 1 }, { timestamp: Math.floor(now / 1000) }) },
        { id: "clock-good", body: message(feature, { kvReads: 2 }, { timestamp: now }) },
      ]);
      assert.equal(batch.acked.length, 4);
      assert.equal(await featureTotal(platform, feature, "kv_reads"), 2);
      const rejects = await rejectsOf("clock-");
      assert.deepEqual(rejects.map(([id]) => id), ["clock-1970", "clock-3000", "clock-seconds"]);
      assert.match(rejects[0][1], /^timestamp: 1 \(1970-01-01T00:00:00\.001Z\) is not within 35 days before or an hour after/);
      assert.match(rejects[1][1], /3000-01-01T00:00:00\.000Z/);
      assert.match(rejects[2][1], /it looks like seconds: send milliseconds since the epoch/);
    });

    it("refuses invisible formatting and bidi control characters in feature keys", async () => {
      const batch = await platform.queue(USAGE, TELEMETRY, [
        { id: "bidi-rlo", body: message("rel:api:pay\u202Eevil", { kvReads: 1 }) },
        { id: "bidi-zwsp", body: message("rel\u200B:api:pay", { kvReads: 1 }) },
      ]);
      assert.equal(batch.acked.length, 2);
      const rejects = await rejectsOf("bidi-");
      assert.match(rejects[0][1], /invisible formatting character U\+202E in its feature/);
      assert.match(rejects[1][1], /invisible formatting character U\+200B in its project/);
    });

    it("keeps a dead letter once when it is delivered again, so replaying every pending row counts it once", async () => {
      const feature = "rel:api:replayed";
      const letter = { id: "replay-1", body: message(feature, { kvReads: 5 }), timestamp: new Date() };
      for (let delivery = 0; delivery < 2; delivery++) assert.deepEqual((await platform.queue(USAGE, DLQ, [letter])).acked, ["replay-1"]);
      const pending = (await admin(USAGE, "GET", "/dlq")).body.messages.filter((m) => m.message_id === "replay-1");
      assert.equal(pending.length, 1, JSON.stringify(pending));
      for (const row of pending) assert.equal((await admin(USAGE, "POST", `/dlq/${row.id}/replay`)).status, 200);
      await pollUntil(async () => ((await featureTotal(platform, feature, "kv_reads")) === 5 ? true : undefined), { what: "the replay counted" });
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(await featureTotal(platform, feature, "kv_reads"), 5);
    });

    it("keeps dead letters while D1 refuses them: retried minutes later, up to 100 times, recorded once it is back", async () => {
      const letters = [1, 2].map((n) => ({ id: `held-${n}`, body: message("rel:api:held", { kvReads: n }), timestamp: new Date() }));
      await platform.d1.exec("ALTER TABLE telemetry_rejects RENAME TO telemetry_rejects_away");
      const refused = await platform.queue(USAGE, DLQ, letters);
      await platform.d1.exec("ALTER TABLE telemetry_rejects_away RENAME TO telemetry_rejects");
      assert.deepEqual(refused.acked, []);
      assert.deepEqual(refused.retried, letters.map(({ id }) => ({ id, delaySeconds: 300 })));
      const recorded = await platform.queue(USAGE, DLQ, letters);
      assert.deepEqual(recorded.acked, ["held-1", "held-2"]);
      assert.equal((await rejectsOf("held-")).length, 2);

      const config = parse(readFileSync(new URL("../wrangler/platform-usage.toml", import.meta.url), "utf8"));
      for (const { consumers, producers } of [config.queues, config.env.staging.queues]) {
        const dlq = consumers.find((c) => c.queue.startsWith(DLQ));
        assert.equal(dlq.max_retries, 100, dlq.queue);
        assert.equal(dlq.retry_delay, 300, dlq.queue);
        // Copies of old dead letters go back to the dead-letter queue itself.
        assert.equal(producers.find((p) => p.binding === "PLATFORM_TELEMETRY_DLQ").queue, dlq.queue);
      }
    });

    it("sends a dead letter D1 still refuses after six hours to its queue again, keeping its id; recorded once D1 is back", async () => {
      const hoursAgo = (hours) => new Date(Date.now() - hours * 3_600_000);
      const body = message("rel:api:aged", { kvReads: 4 });
      const letters = [
        // Near its last retries (100, five minutes apart): retried once more, the runtime would drop it.
        { id: "aged-old", body, timestamp: hoursAgo(7), attempts: 85 },
        { id: "aged-young", body: message("rel:api:aged", { kvReads: 1 }), timestamp: hoursAgo(1), attempts: 12 },
      ];
      const heldCopies = async () => (await (await platform.mf.getWorker(RESENT_CAPTURE)).fetch("http://capture/")).json();
      await heldCopies();
      await platform.d1.exec("ALTER TABLE telemetry_rejects RENAME TO telemetry_rejects_away");
      let copy;
      try {
        const refused = await platform.queue(USAGE, DLQ, letters);
        assert.deepEqual(refused.acked, ["aged-old"]);
        assert.deepEqual(refused.retried, [{ id: "aged-young", delaySeconds: 300 }]);
        const copies = await pollUntil(async () => ((held) => (held.length > 0 ? held : undefined))(await heldCopies()), {
          what: "the dead letter sent again",
        });
        assert.equal(copies.length, 1, JSON.stringify(copies));
        copy = copies[0];
        // The copy is a new message: while D1 still refuses, it is retried like any, not sent round again.
        const again = await platform.queue(USAGE, DLQ, [{ id: "aged-copy-1", body: copy }]);
        assert.deepEqual(again.retried, [{ id: "aged-copy-1", delaySeconds: 300 }]);
      } finally {
        await platform.d1.exec("ALTER TABLE telemetry_rejects_away RENAME TO telemetry_rejects");
      }
      for (const id of ["aged-copy-1", "aged-copy-2"]) assert.deepEqual((await platform.queue(USAGE, DLQ, [{ id, body: copy }])).acked, [id]);
      const rows = await platform.d1.all("SELECT message_id, queue, payload FROM telemetry_rejects WHERE message_id LIKE 'aged-%'");
      assert.deepEqual(rows.map((row) => [row.message_id, row.queue]), [["aged-old", DLQ]], "recorded once, under its first id");
      assert.deepEqual(JSON.parse(rows[0].payload), body, "the payload as first received, for replay");
      assert.deepEqual(await heldCopies(), [], "nothing else was sent again");
    });
  });

  describe("admin routes", () => {
    it("refuses to disable a feature key too long for KV with 400, writing nothing", async () => {
      const long = `rel:api:${"y".repeat(482)}`;
      const answer = await admin(USAGE, "POST", `/features/${long}/disable`, "{}");
      assert.equal(answer.status, 400);
      assert.match(answer.body.error, /at most 256 are allowed/);
      assert.equal((await platform.d1.all("SELECT 1 FROM feature_breakers WHERE feature_key = ?", long)).length, 0);
      assert.equal((await platform.d1.all("SELECT 1 FROM breaker_events WHERE subject = ?", long)).length, 0);
    });

    it("repairs every other breaker when one row cannot be repaired", async () => {
      const bad = `aaa:api:${"z".repeat(482)}`;
      const good = "zzz:api:repaired";
      for (const feature of [bad, good]) {
        await platform.d1.exec(
          "INSERT INTO feature_breakers (feature_key, open, manual, reason, tripped_at, consecutive_trips) VALUES (?, 1, 1, 'by hand', ?, 1)",
          feature,
          Date.now(),
        );
      }
      const run = await platform.cron(USAGE, RECONCILE, Date.now());
      assert.equal(run.outcome, "ok");
      assert.equal(await platform.kv.get(featureStatusKey(good)), "STOP");
    });

    it("refuses a project that differs only in case from a known one (409)", async () => {
      await platform.d1.exec(
        "INSERT INTO project_registry (project_id, display_name, repository, tier, scripts, updated_at) VALUES ('casey', 'Casey', 'o/casey', 2, '[]', 0)",
      );
      assert.equal((await admin(USAGE, "POST", "/projects/casey/pause", "{}")).status, 200);
      const other = await admin(USAGE, "POST", "/projects/CASEY/resume");
      assert.equal(other.status, 409);
      assert.match(other.body.error, /"CASEY" is "casey" in another case: consumers read both through PROJECT:CASEY:STATUS/);
      assert.equal((await admin(USAGE, "POST", "/projects/casey/resume")).status, 200);
    });

    it("refuses a project id that is not ASCII with 400 saying why, at the admin routes, in telemetry and in the config", async () => {
      // Unicode upper-cases "café" and "CAFé" alike, SQLite's upper() does not: ids are ASCII, so equal but for case is found.
      for (const [method, path, body] of [
        ["POST", "/projects/café/pause", "{}"],
        ["POST", "/projects/CAFé/resume", undefined],
        ["POST", "/features/café:api:main/disable", "{}"],
      ]) {
        const answer = await admin(USAGE, method, path, body);
        assert.equal(answer.status, 400, `${method} ${path}: ${JSON.stringify(answer.body)}`);
        assert.match(answer.body.error, /\(U\+00E9\) in its project; a project is ASCII/, path);
      }
      const batch = await platform.queue(USAGE, TELEMETRY, [{ id: "ascii-1", body: message("café:api:main", { kvReads: 1 }) }]);
      assert.deepEqual(batch.acked, ["ascii-1"]);
      assert.match((await rejectsOf("ascii-"))[0][1], /^feature_key: .*a project is ASCII/);
      const services = { projects: { "straße": { repository: "acme/strasse" } } };
      const refused = await admin(SYNC, "POST", "/sync", JSON.stringify({ services, budgets: {} }));
      assert.equal(refused.status, 400, JSON.stringify(refused.body));
      const problems = refused.body.problems.map((p) => `${p.path}: ${p.reason}`);
      assert.ok(problems.some((p) => /straße.*'ß' \(U\+00DF\) in its project; a project is ASCII/.test(p)), JSON.stringify(problems));
    });

    it("refuses an unknown field in every admin JSON body with 400 naming it", async () => {
      const colour = (fields) => JSON.stringify({ ...fields, colour: "red" });
      const cases = [
        [USAGE, "POST", "/global-stop", colour({ enabled: false }), /unknown field `colour`/],
        [USAGE, "POST", "/features/rel:api:main/disable", colour({}), /unknown field `colour`/],
        [USAGE, "POST", "/projects/rel/pause", colour({}), /unknown field `colour`/],
        [USAGE, "PUT", "/settings", colour({}), /colour.*unknown setting|unknown setting.*colour/],
        ["platform-error-collector", "POST", "/gap-alerts", colour({ project: "rel" }), /unknown field `colour`/],
        ["platform-sentinel", "POST", "/silences", colour({ project: "rel", expires_at: Date.now() + 60_000 }), /unknown field `colour`/],
        ["platform-pattern-discovery", "POST", "/patterns/1/approve", colour({ by: "ops" }), /unknown field `colour`/],
        ["platform-notifications", "POST", "/users", colour({ id: "ana", role: "member", email: "ana@example.com" }), /colour: is not a known field/],
        ["platform-notifications", "POST", "/users/ana/tokens", colour({}), /colour: is not a known field/],
        [SYNC, "POST", "/sync", colour({ services: { projects: {} }, budgets: {} }), /unknown field "colour"/],
      ];
      for (const [worker, method, path, body, error] of cases) {
        const answer = await admin(worker, method, path, body);
        assert.equal(answer.status, 400, `${worker} ${method} ${path}: ${JSON.stringify(answer.body)}`);
        assert.match(answer.body.error, error, `${worker} ${method} ${path}`);
      }
      // The producers' route takes NOTIFY_TOKEN, not the admin token.
      const notification = await platform.fetch("platform-notifications", "/notifications", {
        method: "POST",
        headers: { Authorization: `Bearer ${NOTIFY_TOKEN}` },
        body: colour({ source: "platform-usage", title: "t", audience: { kind: "everyone" } }),
      });
      assert.equal(notification.status, 400);
      assert.match((await notification.json()).error, /colour: is not a known field/);
      assert.equal((await platform.d1.all("SELECT 1 FROM global_stop WHERE enabled = 1")).length, 0, "nothing was stopped");
    });

    it("refuses duplicate keys, invalid UTF-8 and numbers out of range with 400, and bodies past 64 KiB with 413", async () => {
      const cases = [
        ["PUT", "/settings", '{"cb_cooldown_seconds": 60, "cb_cooldown_seconds": 6000}', 400, /duplicate key "cb_cooldown_seconds" at line 1 column/],
        ["POST", "/global-stop", '{"enabled": false, "enabled": true}', 400, /duplicate key "enabled"/],
        ["POST", "/global-stop", new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x7d]), 400, /not UTF-8 text: byte 2 is not/],
        ["POST", "/global-stop", JSON.stringify({ enabled: false, reason: "r".repeat(70_000) }), 413, /at most 65536 are accepted/],
        ["GET", "/events?limit=4294967296", undefined, 400, /limit must be a whole number from 1 to 1000/],
      ];
      for (const [method, path, body, status, error] of cases) {
        const answer = await admin(USAGE, method, path, body);
        assert.equal(answer.status, status, `${method} ${path}: ${JSON.stringify(answer.body)}`);
        assert.match(answer.body.error, error, `${method} ${path}`);
      }
      assert.equal((await platform.d1.all("SELECT 1 FROM global_stop WHERE enabled = 1")).length, 0, "nothing was stopped");
    });
  });

  describe("config applies", () => {
    const config = (repository, limit) => ({
      services: { projects: { race: { repository, scripts: [`race-${limit}`], features: { api: { main: {} } } } } },
      budgets: { defaults: { daily: { d1_writes: limit } } },
    });

    it("refuses sync bodies with duplicate keys (400) and past 1 MiB (413), and configs with ids equal but for case", async () => {
      const duplicate = await admin(SYNC, "POST", "/sync", '{"services": {}, "services": {}, "budgets": {}}');
      assert.equal(duplicate.status, 400);
      assert.match(duplicate.body.error, /duplicate key "services" at line 1/);
      const latin1 = await admin(SYNC, "POST", "/sync", new Uint8Array([0x7b, 0x22, 0xe9, 0x22, 0x7d]));
      assert.equal(latin1.status, 400);
      assert.match(latin1.body.error, /not UTF-8 text: byte 2 is not/);
      const huge = await admin(SYNC, "POST", "/sync", JSON.stringify({ services: { projects: {} }, budgets: { x: "y".repeat(2 << 20) } }));
      assert.equal(huge.status, 413);
      assert.match(huge.body.error, /at most 1048576 are accepted/);
      const cased = { services: { projects: { casey: { repository: "acme/a" }, CASEY: { repository: "acme/b" } } }, budgets: { defaults: { daily: { d1_writes: 1e30 } } } };
      const refused = await admin(SYNC, "POST", "/sync", JSON.stringify(cased));
      assert.equal(refused.status, 400);
      const problems = refused.body.problems.map((p) => `${p.path}: ${p.reason}`);
      assert.equal(problems.length, 2, JSON.stringify(problems));
      assert.ok(problems.some((p) => /^projects\.(casey|CASEY): project .* in another case: both would share PROJECT:CASEY:STATUS/.test(p)), JSON.stringify(problems));
      assert.ok(problems.some((p) => /^defaults\.daily\.d1_writes: .*more than the largest limit/.test(p)), JSON.stringify(problems));
    });

    it("applies one of two configs sent at the same moment whole; the other is told to retry (409)", async () => {
      const answers = await Promise.all([
        admin(SYNC, "POST", "/sync", JSON.stringify(config("acme/first", 111))),
        admin(SYNC, "POST", "/sync", JSON.stringify(config("acme/second", 222))),
      ]);
      const statuses = answers.map((a) => a.status).sort();
      assert.ok(
        JSON.stringify(statuses) === "[200,409]" || JSON.stringify(statuses) === "[200,200]",
        JSON.stringify(answers.map((a) => a.body)),
      );
      for (const answer of answers.filter((a) => a.status === 409)) assert.match(answer.body.error, /retry once it completes/);
      // Whatever the order, KV holds one config whole: its budget, its script and its repository.
      const limit = JSON.parse(await platform.kv.get("CONFIG:FEATURE:race:api:main:BUDGET")).d1_writes;
      assert.ok([111, 222].includes(limit), String(limit));
      const scripts = (await platform.kv.list("SCRIPT_MAP:race-")).map((k) => k.name ?? k);
      assert.deepEqual(scripts, [`SCRIPT_MAP:race-${limit}`]);
      const mapped = JSON.parse(await platform.kv.get(`SCRIPT_MAP:race-${limit}`));
      assert.equal(mapped.repository, limit === 111 ? "acme/first" : "acme/second");
    });
  });

  describe("alerts", () => {
    const store = (subject, text, count) =>
      Promise.all(
        Array.from({ length: count }, (_, n) =>
          platform.d1.exec("INSERT INTO alert_outbox (kind, subject, text, created_at, inbox_at) VALUES ('trip', ?, ?, ?, ?)", subject, text, Date.now() - 1000 + n, Date.now()),
        ),
      );

    it("posts an alert stored four times during a Slack outage once, whatever three sweeps at once do", async () => {
      await store("rel:api:outage:1:1", "outage alert", 4);
      await platform.fakes.failNext("slack", 503, { body: "service_unavailable", count: 1 });
      await platform.cron(USAGE, SWEEP, Date.now());
      const sweeps = await Promise.all([0, 1, 2].map(() => platform.cron(USAGE, SWEEP, Date.now())));
      for (const sweep of sweeps) assert.equal(sweep.outcome, "ok");
      for (let n = 0; n < 4; n++) await platform.cron(USAGE, SWEEP, Date.now());
      assert.equal((await slackTexts("outage alert")).length, 2, "the refused attempt, then one post");
      const rows = await platform.d1.all("SELECT sent_at, last_error FROM alert_outbox WHERE subject = 'rel:api:outage:1:1'");
      assert.ok(rows.every((row) => row.sent_at !== null), JSON.stringify(rows));
      assert.equal(rows.filter((row) => row.last_error === null).length, 1, JSON.stringify(rows));
    });

    it("waits at most 10 s for Slack, and never posts a slow answer again", async () => {
      await store("rel:api:slow:1:1", "slow alert", 1);
      await platform.fakes.failNext("slack", 200, { body: "ok", delayMs: 12_000 });
      const started = Date.now();
      await platform.cron(USAGE, SWEEP, Date.now());
      assert.ok(Date.now() - started < 11_500, `the sweep took ${Date.now() - started} ms`);
      await platform.cron(USAGE, SWEEP, Date.now());
      assert.equal((await slackTexts("slow alert")).length, 1);
      const [row] = await platform.d1.all("SELECT sent_at, last_error FROM alert_outbox WHERE subject = 'rel:api:slow:1:1'");
      assert.notEqual(row.sent_at, null);
      assert.match(row.last_error, /^unconfirmed: Slack did not answer within 10 s/);
    });

    it("shows a webhook Slack removed (404 no_service) in /health and tells the inbox once", async () => {
      await store("rel:api:removed:1:1", "removed alert", 1);
      await store("rel:api:removed:2:1", "removed alert two", 1);
      await platform.fakes.failNext("slack", 404, { body: "no_service", count: 10 });
      const before = (await platform.fakes.requests({ service: "slack" })).length;
      for (let n = 0; n < 2; n++) await platform.cron(USAGE, SWEEP, Date.now());
      const posts = (await platform.fakes.requests({ service: "slack" })).length - before;
      assert.equal(posts, 2, "one refused post per sweep: the rest wait for a new webhook");
      const health = await (await platform.fetch(USAGE, "/health")).json();
      const warning = health.warnings.find((w) => w.includes("Slack refuses this webhook"));
      assert.match(warning ?? "", /404 no_service\): replace SLACK_WEBHOOK_URL/);
      const notices = await platform.d1.all("SELECT title FROM notifications WHERE dedup_key LIKE 'alerts:slack-webhook-refused:%'");
      assert.deepEqual(notices.map((n) => n.title), ["Slack refuses the alert webhook"]);
      // Slack takes the webhook again (a new one was set): the alerts kept are delivered, and /health is clear.
      await platform.fakes.reset();
      await platform.cron(USAGE, SWEEP, Date.now());
      assert.equal((await slackTexts("removed alert")).length, 2);
      const after = await (await platform.fetch(USAGE, "/health")).json();
      assert.equal(after.warnings.find((w) => w.includes("Slack refuses")), undefined);
    });
  });
});
