// pattern-discovery end to end with the real error collector: errors flow through the collector's tail
// handler into D1, discovery mines them into suggestions, the collector records the shadow pattern's
// matches on live errors (filing exactly as before), the evidence makes it ready, an operator approves
// it, and then the collector stops filing new issues for that family while the consumer SDK's loader
// reads the same pattern. The collector keeps its pattern lists in the isolate for 5 minutes, so the
// platform is restarted over the same persisted state where a new isolate would read them.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startPlatform } from "./harness/platform.mjs";

const COLLECTOR = "platform-error-collector";
const DISCOVERY = "platform-pattern-discovery";
const DAILY_CRON = "0 3 * * *";
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const APPROVED_KEY = "PATTERNS:DYNAMIC:APPROVED";
const SHADOW_KEY = "PATTERNS:DYNAMIC:SHADOW";
const WEBHOOK = "https://hooks.slack.com/services/T000/B000/patterns-tests";
const VENDORS = ["acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "tyrell"];

// The consumer SDK's loader (consumer-protocol.md §2.5), written from the protocol: a bare array of
// {type, value, category, scope, id?}; contains = every whitespace-separated token, case-insensitive.
function sdkLoadDynamicPatterns(json) {
  const list = JSON.parse(json ?? "[]");
  assert.ok(Array.isArray(list), "the approved cache is a bare JSON array");
  const compile = ({ type, value }) => {
    const text = String(value);
    if (type === "contains") {
      const tokens = text.toLowerCase().split(/\s+/);
      return (m) => tokens.every((t) => m.toLowerCase().includes(t));
    }
    if (type === "startsWith") return (m) => m.toLowerCase().startsWith(text.toLowerCase());
    if (type === "statusCode") return (m) => new RegExp(`\\b${text}\\b`).test(m);
    if (type === "regex" && text.length <= 200) return (m) => new RegExp(text, "i").test(m);
    return undefined;
  };
  const patterns = list.filter((p) => p.type && p.value && p.category).map((p) => ({ ...p, test: compile(p) }));
  return { patterns, classify: (message) => patterns.find((p) => p.test?.(message))?.category };
}

describe("pattern-discovery", () => {
  const persist = mkdtempSync(join(tmpdir(), "patterns-"));
  const adminToken = "patterns-admin-token-0123456789";
  let platform;
  const start = async () => {
    await platform?.dispose();
    platform = await startPlatform({
      workers: ["error-collector", "pattern-discovery"],
      persist,
      adminToken,
      secrets: { GITHUB_TOKEN: "ghp_patternsTestToken0123456789abcd", SLACK_WEBHOOK_URL: WEBHOOK },
    });
  };
  before(start);
  after(async () => {
    await platform?.dispose();
    rmSync(persist, { recursive: true, force: true });
  });

  const T0 = Date.now();
  const exception = (script, message, at = Date.now(), name = "Error") => ({
    scriptName: script,
    outcome: "exception",
    eventTimestamp: at,
    event: { request: { url: "https://shop.example/api/checkout", method: "POST", headers: {} } },
    exceptions: [{ name, message, timestamp: at }],
    logs: [],
    diagnosticsChannelEvents: [],
  });
  const throttled = (i, vendor) => `Payments API throttled request req_${i}f3a${i}c9 for ${vendor}, slow down`;
  const tail = (events) => platform.tail(COLLECTOR, events);
  const admin = async (method, path, body) => {
    const response = await platform.adminFetch(DISCOVERY, path, {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
    });
    return { status: response.status, body: await response.json() };
  };
  const issues = (repo) => platform.fakes.issues({ owner: "acme", repo });
  const byRule = async (value) =>
    (await admin("GET", "/patterns")).body.patterns.find((p) => p.value === value);
  const RULE = "payments api throttled request slow down";
  const OVERLOADED = "search index rebuild temporarily overloaded shard";

  it("refuses every anonymous call but /health", async () => {
    assert.equal((await platform.fetch(DISCOVERY, "/health")).status, 200);
    for (const [method, path] of [
      ["GET", "/patterns"],
      ["GET", "/patterns/pat-0123456789abcdef"],
      ["POST", "/patterns/pat-0123456789abcdef/approve"],
      ["POST", "/patterns/pat-0123456789abcdef/reject"],
      ["POST", "/patterns/pat-0123456789abcdef/disable"],
      ["POST", "/discover"],
      ["POST", "/cache/refresh"],
    ]) {
      const anonymous = await platform.fetch(DISCOVERY, path, { method });
      assert.equal(anonymous.status, 401, `${method} ${path}`);
      const wrong = await platform.fetch(DISCOVERY, path, { method, headers: { authorization: "Bearer nope" } });
      assert.equal(wrong.status, 403, `${method} ${path}`);
    }
  });

  it("mines the collector's errors into suggestions for the transient families only", async () => {
    for (const script of ["shop", "search", "bugs"]) {
      await platform.kv.put(`SCRIPT_MAP:${script}`, JSON.stringify({ project: script, repository: `acme/${script}`, tier: 1, displayName: script }));
    }
    // A noisy transient family: every request id makes a fingerprint, and an issue, of its own.
    await tail(VENDORS.map((vendor, i) => exception("shop", throttled(i, vendor), T0)));
    await tail(Array.from({ length: 6 }, (_, i) => exception("search", `Search index rebuild temporarily overloaded on shard s${i}`, T0)));
    // Real bugs, recurring: never suggested.
    await tail(Array.from({ length: 5 }, () => exception("bugs", "Cannot read properties of undefined (reading 'total')", T0, "TypeError")));
    await tail(Array.from({ length: 6 }, () => exception("bugs", "NOT NULL constraint failed: orders.customer_id", T0)));
    assert.equal((await issues("shop")).length, VENDORS.length);

    const run = await admin("POST", "/discover");
    assert.equal(run.status, 200, JSON.stringify(run.body));
    assert.equal(run.body.suggested.length, 2, JSON.stringify(run.body));
    assert.ok(run.body.skipped.some((s) => s.template.startsWith("NOT NULL constraint failed")), JSON.stringify(run.body.skipped));
    const rule = await byRule(RULE);
    assert.equal(rule.status, "pending");
    assert.equal(rule.type, "contains");
    assert.equal(rule.category, "rate-limited");
    assert.equal(rule.fingerprints.length, VENDORS.length);
    assert.match(rule.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.ok(rule.samples.every((s) => s.startsWith("Payments API throttled request")));
    const suggestionsNotice = (await platform.fakes.requests({ service: "slack" })).map((r) => JSON.parse(r.body).text);
    assert.ok(suggestionsNotice.some((t) => t.includes("2 new transient-error pattern suggestion(s)")), JSON.stringify(suggestionsNotice));
  });

  it("remembers a rejected pattern and never suggests it again", async () => {
    const overloaded = await byRule(OVERLOADED);
    assert.ok(overloaded, "the overloaded family was suggested");
    const rejected = await admin("POST", `/patterns/${overloaded.id}/reject`, { by: "jane", reason: "we want these issues" });
    assert.equal(rejected.status, 200, JSON.stringify(rejected.body));
    assert.equal(rejected.body.pattern.status, "rejected");
    const again = await admin("POST", "/discover");
    assert.equal(again.body.suggested.length, 0);
    assert.equal(again.body.known, 2);
    const row = await byRule(OVERLOADED);
    assert.deepEqual([row.status, row.reason, row.decided_by], ["rejected", "we want these issues", "jane"]);
    assert.equal((await admin("POST", `/patterns/${overloaded.id}/approve`)).status, 409);
  });

  it("records the shadow pattern's matches in the collector without changing what it files", async () => {
    const shadowStart = T0 + 25 * HOUR_MS;
    await platform.cron(DISCOVERY, DAILY_CRON, shadowStart);
    const rule = await byRule(RULE);
    assert.equal(rule.status, "shadow");
    const shadowList = JSON.parse(await platform.kv.get(SHADOW_KEY));
    assert.deepEqual(shadowList, [{ id: rule.id, type: "contains", value: RULE, category: "rate-limited", scope: "global" }]);

    await start(); // a new collector isolate reads the shadow list
    const before = await platform.d1.all("SELECT fingerprint, category, occurrences FROM error_fingerprints WHERE script = 'shop' ORDER BY fingerprint");
    const issuesBefore = (await issues("shop")).length;
    // Two errors a day on three days of the shadow window, in batches of their own.
    for (const day of [2, 3, 4]) {
      await tail([0, 1].map((i) => exception("shop", throttled(day + i, VENDORS[day + i]), T0 + day * DAY_MS)));
    }
    const matches = await platform.d1.all("SELECT day, fingerprint, matches FROM pattern_matches WHERE pattern_id = ? ORDER BY day", rule.id);
    assert.equal(matches.reduce((sum, m) => sum + m.matches, 0), 6);
    assert.equal(new Set(matches.map((m) => m.day)).size, 3);
    // Filed exactly as before: no category, the same fingerprints, no new issue.
    const after = await platform.d1.all("SELECT fingerprint, category, occurrences FROM error_fingerprints WHERE script = 'shop' ORDER BY fingerprint");
    assert.deepEqual(after.map((r) => [r.fingerprint, r.category]), before.map((r) => [r.fingerprint, r.category]));
    assert.equal(after.reduce((s, r) => s + r.occurrences, 0), before.reduce((s, r) => s + r.occurrences, 0) + 6);
    assert.equal((await issues("shop")).length, issuesBefore);
  });

  it("makes the pattern ready with enough evidence, and lists that evidence", async () => {
    const run = await platform.cron(DISCOVERY, DAILY_CRON, T0 + 5 * DAY_MS);
    assert.equal(run.outcome, "ok");
    const listed = (await admin("GET", "/patterns?status=ready")).body.patterns;
    assert.equal(listed.length, 1);
    const [ready] = listed;
    assert.equal(ready.value, RULE);
    assert.equal(ready.matches, 6);
    assert.equal(Object.keys(ready.matches_by_day).length, 3);
    assert.ok(Object.keys(ready.matches_by_day).every((day) => /^\d{4}-\d\d-\d\d$/.test(day)));
    const shown = (await admin("GET", `/patterns/${ready.id}`)).body;
    // Six matches on four fingerprints (two of them on two days each).
    assert.equal(shown.would_silence.length, 4);
    assert.equal(shown.would_silence.reduce((sum, f) => sum + f.matches, 0), 6);
    assert.ok(shown.would_silence.every((f) => ready.fingerprints.includes(f.fingerprint)));
    assert.equal(shown.backtest.others_matched, 0);
    const texts = (await platform.fakes.requests({ service: "slack" })).map((r) => JSON.parse(r.body).text);
    assert.ok(texts.some((t) => t.includes("1 pattern(s) ready for review")), JSON.stringify(texts));
    assert.equal((await admin("GET", "/patterns?status=nonsense")).status, 400);
    assert.equal((await admin("GET", "/patterns/not-an-id")).status, 400);
  });

  it("approves it into the cache the collector and the consumer SDK read, and the collector stops filing the family", async () => {
    const ready = (await admin("GET", "/patterns?status=ready")).body.patterns[0];
    const approved = await admin("POST", `/patterns/${ready.id}/approve`, { by: "jane" });
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    assert.equal(approved.body.pattern.status, "approved");
    assert.deepEqual(approved.body.cache, { approved: 1, shadow: 0 });

    const [listedKey] = await platform.kv.list(APPROVED_KEY);
    const ttl = listedKey.expiration * 1000 - Date.now();
    assert.ok(ttl > 6.9 * DAY_MS && ttl <= 7 * DAY_MS + 60_000, `expires in ${ttl} ms`);
    const raw = await platform.kv.get(APPROVED_KEY);
    assert.deepEqual(JSON.parse(raw), [{ id: ready.id, type: "contains", value: RULE, category: "rate-limited", scope: "global" }]);
    const sdk = sdkLoadDynamicPatterns(raw);
    assert.equal(sdk.classify("Payments API throttled request req_77 for initech, slow down"), "rate-limited");
    assert.equal(sdk.classify("Cannot read properties of undefined (reading 'total')"), undefined);
    assert.deepEqual(JSON.parse(await platform.kv.get(SHADOW_KEY)), []);

    await start(); // a new collector isolate reads the approved list
    const issuesBefore = (await issues("shop")).length;
    const fresh = ["cyberdyne", "soylent", "initrode", "vandelay"];
    await tail(fresh.slice(0, 2).map((vendor, i) => exception("shop", throttled(40 + i, vendor))));
    await tail(fresh.slice(2).map((vendor, i) => exception("shop", throttled(50 + i, vendor))));
    const classified = await platform.d1.all("SELECT category, occurrences FROM error_fingerprints WHERE script = 'shop' AND category IS NOT NULL");
    assert.deepEqual(classified, [{ category: "rate-limited", occurrences: 4 }]);
    // Four new variants that would have been four issues: at most the category's one a day.
    assert.ok((await issues("shop")).length <= issuesBefore + 1);
    const approvedMatches = await platform.d1.all(
      "SELECT sum(matches) AS n FROM pattern_matches WHERE pattern_id = ? AND fingerprint IN (SELECT fingerprint FROM error_fingerprints WHERE category IS NOT NULL)",
      ready.id,
    );
    assert.equal(approvedMatches[0].n, 4);
    // The bugs are still their own issues.
    assert.equal((await platform.d1.all("SELECT category FROM error_fingerprints WHERE script = 'bugs' AND category IS NOT NULL")).length, 0);
  });

  it("disables an approved pattern and takes it out of the cache", async () => {
    const [approved] = (await admin("GET", "/patterns?status=approved")).body.patterns;
    const disabled = await admin("POST", `/patterns/${approved.id}/disable`, { reason: "noisy vendor fixed" });
    assert.equal(disabled.body.pattern.status, "disabled");
    assert.deepEqual(JSON.parse(await platform.kv.get(APPROVED_KEY)), []);
    const refreshed = await admin("POST", "/cache/refresh");
    assert.deepEqual(refreshed.body, { approved: 0, shadow: 0 });
  });
});

describe("pattern-discovery with a model", () => {
  let platform;
  const FAKE_MODEL = `
    import { WorkerEntrypoint } from "cloudflare:workers";
    export class FakeAi extends WorkerEntrypoint {
      async run(model, input) {
        const clusters = JSON.parse(input.messages[1].content);
        const overloaded = clusters.find((c) => c.template.includes("overloaded"));
        // Skips the first cluster: a proposal read by its position would land on the wrong one.
        const patterns = [
          { cluster: overloaded.id, type: "contains", value: "index rebuild overloaded", category: "Service Unavailable" },
          { cluster: "c-000000000000", type: "contains", value: "payments throttled", category: "rate-limited" },
        ];
        return { response: "Here you go: " + JSON.stringify({ patterns }) };
      }
    }
    export default { fetch() { return new Response("a fake model", { status: 404 }); } };`;
  before(async () => {
    platform = await startPlatform({
      workers: ["error-collector", "pattern-discovery"],
      extraWorkers: [{ name: "fake-ai", modules: true, script: FAKE_MODEL, compatibilityDate: "2026-04-01" }],
      bindingsOf: { [DISCOVERY]: { serviceBindings: { AI: { name: "fake-ai", entrypoint: "FakeAi" } } } },
    });
  });
  after(() => platform?.dispose());

  const exception = (script, message) => ({
    scriptName: script,
    outcome: "exception",
    eventTimestamp: Date.now(),
    event: { request: { url: "https://shop.example/api", method: "GET", headers: {} } },
    exceptions: [{ name: "Error", message, timestamp: Date.now() }],
    logs: [],
  });
  const discover = async () => (await (await platform.adminFetch(DISCOVERY, "/discover", { method: "POST" })).json());

  it("maps each proposal to the cluster it names, and checks it like a mined rule", async () => {
    await platform.tail(COLLECTOR, VENDORS.map((vendor, i) => exception("shop", `Payments API throttled request req_${i}a1 for ${vendor}, slow down`)));
    await platform.tail(COLLECTOR, Array.from({ length: 6 }, (_, i) => exception("search", `Search index rebuild temporarily overloaded on shard s${i}`)));
    const health = await (await platform.fetch(DISCOVERY, "/health")).json();
    assert.equal(JSON.stringify(health).includes("suggestions come from the template miner only"), false, JSON.stringify(health));

    const run = await discover();
    assert.equal(run.model.called, true);
    assert.equal(run.model.proposals, 1, JSON.stringify(run.model));
    assert.deepEqual(run.model.ignored, ['patterns[1]: cluster "c-000000000000" was not shown']);
    const rows = await platform.d1.all("SELECT value, category, source, status, cluster, fingerprints FROM patterns WHERE source = 'model'");
    assert.equal(rows.length, 1);
    const [row] = rows;
    assert.deepEqual([row.value, row.category, row.status], ["index rebuild overloaded", "service-unavailable", "pending"]);
    assert.match(row.cluster, /^Search index rebuild temporarily overloaded/);
    const searchFingerprints = await platform.d1.all("SELECT fingerprint FROM error_fingerprints WHERE script = 'search' ORDER BY fingerprint");
    assert.deepEqual(JSON.parse(row.fingerprints).sort(), searchFingerprints.map((r) => r.fingerprint));
  });

  it("does not call the model while the platform's breaker for it is STOP", async () => {
    await platform.kv.put("CONFIG:FEATURE:platform:patterns:model:STATUS", "STOP");
    const run = await discover();
    assert.equal(run.model.called, false);
    assert.deepEqual(run.model.ignored, ["the breaker of platform:patterns:model is STOP"]);
  });
});
