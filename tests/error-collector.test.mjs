// error-collector end to end: synthetic tail batches go to the Rust tail handler (through tail.mjs);
// the fake GitHub records what it was asked. Every test uses its own scripts and repository, so the
// hourly write budget and the fake's issues never leak between tests.

import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { pollUntil } from "./harness/poll.mjs";
import { startPlatform } from "./harness/platform.mjs";

const COLLECTOR = "platform-error-collector";
const RETRY_CRON = "*/15 * * * *";
const DIGEST_CRON = "10 0 * * *";
const DAY_MS = 86_400_000;
const TOKEN = "ghp_collectorTestToken0123456789abcdef";
const HOOK_SECRET = "webhook-secret-for-tests";

describe("error-collector", () => {
  let platform;
  before(async () => {
    platform = await startPlatform({
      workers: ["error-collector"],
      secrets: { GITHUB_TOKEN: TOKEN, GITHUB_WEBHOOK_SECRET: HOOK_SECRET },
      // An application Worker that names the collector as its tail consumer, as consumers do with
      // `tail_consumers`: the runtime's own tail delivery, not a synthetic batch.
      extraWorkers: [
        {
          name: "failing-app",
          modules: true,
          script: `export default { async fetch(request) {
            console.error(JSON.stringify({ level: "error", message: "producer soft error 17" }));
            if (new URL(request.url).pathname === "/throw") throw new Error("producer exploded 42");
            return new Response("ok");
          } };`,
          compatibilityDate: "2026-04-01",
          tails: [COLLECTOR],
        },
      ],
    });
  });
  after(() => platform?.dispose());

  const mapScript = (script, repository, tier = 1) =>
    platform.kv.put(`SCRIPT_MAP:${script}`, JSON.stringify({ project: script, repository, tier, displayName: script }));
  const exception = (script, message, { name = "Error", url = "https://app.example/api/orders", logs = [], at = Date.now() } = {}) => ({
    scriptName: script,
    outcome: "exception",
    eventTimestamp: at,
    event: { request: { url, method: "POST", headers: {} } },
    exceptions: [{ name, message, timestamp: at }],
    logs,
    diagnosticsChannelEvents: [],
  });
  const softError = (script, message) => ({
    scriptName: script,
    outcome: "ok",
    eventTimestamp: Date.now(),
    event: { request: { url: "https://app.example/jobs", method: "GET" } },
    exceptions: [],
    logs: [{ level: "error", message: [JSON.stringify({ level: "error", message, correlationId: crypto.randomUUID() })], timestamp: Date.now() }],
  });
  const tail = (events) => platform.tail(COLLECTOR, events);
  const issues = (repo) => platform.fakes.issues({ owner: "acme", repo });
  const rows = (script) =>
    platform.d1.all("SELECT * FROM error_fingerprints WHERE script = ? ORDER BY first_seen, fingerprint", script);
  const githubRequests = async (repo) =>
    (await platform.fakes.requests({ service: "github" })).filter((r) => r.url.includes(`/repos/acme/${repo}/`));
  const admin = async (method, path, body) => {
    const response = await platform.adminFetch(COLLECTOR, path, {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
    });
    return { status: response.status, body: await response.json() };
  };
  // A change made by a person on GitHub (not by the collector).
  const onGithub = async (method, path, body) => {
    const fake = await platform.mf.getWorker("fake-apis");
    const response = await fake.fetch(`https://api.github.com${path}`, {
      method,
      headers: { authorization: "token person", "user-agent": "a-person", "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    assert.ok(response.ok, `${method} ${path}: ${response.status}`);
  };

  it("turns 1,000 identical exceptions in 10 batches into one issue, counting every one", async () => {
    await mapScript("flood", "acme/flood");
    for (let batch = 0; batch < 10; batch++) {
      await tail(Array.from({ length: 100 }, (_, i) => exception("flood", `order ${1000 + batch * 100 + i} (${crypto.randomUUID()}) failed at 2026-03-02T14:00:0${i % 10}Z`)));
    }
    const found = await issues("flood");
    assert.equal(found.length, 1);
    assert.match(found[0].title, /^\[flood\] Error: order \d+ \(/);
    assert.deepEqual(found[0].labels.map((l) => l.name), ["cf:error:auto-generated", "cf:error:exception", "cf:priority:p1"]);
    const [row] = await rows("flood");
    assert.equal(row.occurrences, 1000);
    assert.equal(row.issue_number, found[0].number);
    assert.match(found[0].body, new RegExp(`Fingerprint: \`${row.fingerprint}\``));
    // Comments on milestones only: the 1,000th here (the issue was filed at 100).
    assert.equal(found[0].comments, 1);
    const writes = (await githubRequests("flood")).filter((r) => r.method !== "GET");
    assert.equal(writes.length, 2);
    // The fingerprint's KV state was written on its one state change, not per occurrence.
    assert.equal((await platform.kv.list("ERROR_FINGERPRINT:")).filter((k) => k.name.endsWith(row.fingerprint)).length, 1);
  });

  it("receives the tail events of a producer that names it as tail consumer", async () => {
    const app = await platform.mf.getWorker("failing-app");
    await app.fetch("http://app.example/throw?token=SECRET").then((r) => r.text()).catch(() => {});
    const recorded = await pollUntil(
      async () => {
        const found = await platform.d1.all("SELECT kind, script, project, sample FROM error_fingerprints WHERE sample LIKE 'producer %'");
        return found.length === 2 ? found : undefined;
      },
      { what: "the producer's exception and soft error recorded" },
    );
    assert.deepEqual(recorded.map((r) => r.kind).sort(), ["exception", "soft-error"]);
    // Miniflare delivers scriptName null: recorded under the unknown script, unmapped.
    assert.ok(recorded.every((r) => r.project === "unmapped"));
  });

  it("gives two distinct errors two issues", async () => {
    await mapScript("pair", "acme/pair");
    await tail([exception("pair", "cart exploded"), exception("pair", "payment rejected"), exception("pair", "cart exploded")]);
    const found = await issues("pair");
    assert.equal(found.length, 2);
    assert.deepEqual((await rows("pair")).map((r) => r.occurrences).sort(), [1, 2]);
  });

  it("files one issue per transient category per script per day", async () => {
    await mapScript("flaky", "acme/flaky");
    await tail([
      exception("flaky", "upstream answered 503 Service Unavailable", { url: "https://app.example/a" }),
      exception("flaky", "upstream answered 503", { url: "https://app.example/b" }),
    ]);
    await tail([
      exception("flaky", "Service unavailable: try again", { url: "https://app.example/c" }),
      exception("flaky", "429 Too Many Requests from vendor", { url: "https://app.example/a" }),
    ]);
    const found = await issues("flaky");
    assert.equal(found.length, 2);
    assert.ok(found.every((issue) => issue.labels.some((l) => l.name === "cf:transient")));
    const recorded = await rows("flaky");
    assert.equal(recorded.reduce((n, r) => n + r.occurrences, 0), 4);
    assert.deepEqual([...new Set(recorded.map((r) => r.category))].sort(), ["rate-limited", "service-unavailable"]);
    const windows = (await platform.kv.list("TRANSIENT:flaky:")).map((k) => k.name.split(":")[2]).sort();
    assert.deepEqual(windows, ["rate-limited", "service-unavailable"]);
    // Bare status codes count as transient only as whole words: "order 1503" is not a 503.
    // A TypeError mentioning a timeout is a bug, not a transient error.
    await tail([exception("flaky", "timeoutMs is not a function", { name: "TypeError" })]);
    assert.equal((await issues("flaky")).length, 3);
  });

  it("reopens a resolved issue with cf:regression when the error recurs, but never a muted one", async () => {
    await mapScript("regress", "acme/regress");
    const [back, muted, wontFix] = ["stock went negative", "legacy import failed", "old client sent junk"];
    await tail([exception("regress", back), exception("regress", muted), exception("regress", wontFix)]);
    const byMessage = Object.fromEntries((await rows("regress")).map((r) => [r.sample, r]));
    const [b, m, w] = [byMessage[back], byMessage[muted], byMessage[wontFix]];

    assert.equal((await admin("POST", `/errors/${m.fingerprint}/mute`)).status, 200);
    await onGithub("POST", `/repos/acme/regress/issues/${w.issue_number}/labels`, { labels: ["cf:wont-fix"] });
    for (const row of [b, m, w]) {
      const resolved = await admin("POST", `/errors/${row.fingerprint}/resolve`);
      assert.equal(resolved.body.status, "resolved");
    }
    assert.ok((await issues("regress")).every((issue) => issue.state === "closed"));

    await tail([exception("regress", back), exception("regress", muted), exception("regress", wontFix)]);
    const after = Object.fromEntries((await issues("regress")).map((issue) => [issue.number, issue]));
    assert.equal(Object.keys(after).length, 3);
    assert.equal(after[b.issue_number].state, "open");
    assert.ok(after[b.issue_number].labels.some((l) => l.name === "cf:regression"));
    for (const silenced of [m, w]) {
      assert.equal(after[silenced.issue_number].state, "closed");
      assert.ok(!after[silenced.issue_number].labels.some((l) => l.name === "cf:regression"));
    }
    const state = Object.fromEntries((await rows("regress")).map((r) => [r.fingerprint, r]));
    assert.equal(state[b.fingerprint].status, "open");
    assert.equal(state[m.fingerprint].muted, 1);
    assert.equal(state[w.fingerprint].muted, 1);
  });

  it("makes exactly one issue when GitHub fails with a 5xx and then recovers", async () => {
    await mapScript("retry", "acme/retry");
    await platform.fakes.failNext("github", 502, { count: 1 });
    await tail([exception("retry", "ledger write failed")]);
    assert.equal((await issues("retry")).length, 0);
    let [row] = await rows("retry");
    assert.equal(row.issue_number, null);
    assert.match(row.last_error, /502/);
    assert.ok(row.next_attempt_at > Date.now());
    // A recurrence before the backoff ends does not hammer GitHub.
    await tail([exception("retry", "ledger write failed")]);
    assert.equal((await issues("retry")).length, 0);
    // The retry cron, once the backoff is over.
    await platform.cron(COLLECTOR, RETRY_CRON, row.next_attempt_at + 1000);
    assert.equal((await issues("retry")).length, 1);
    await tail([exception("retry", "ledger write failed")]);
    await platform.cron(COLLECTOR, RETRY_CRON, Date.now() + 3_600_000);
    assert.equal((await issues("retry")).length, 1);
    [row] = await rows("retry");
    assert.equal(row.occurrences, 3);
    assert.equal(row.last_error, null);
  });

  it("honours Retry-After: no further GitHub calls in the batch, the retry waits as told", async () => {
    await mapScript("throttled", "acme/throttled");
    await platform.fakes.failNext("github", 403, { count: 1, headers: { "retry-after": "600" }, body: { message: "secondary rate limit" } });
    const before = Date.now();
    await tail([exception("throttled", "first of two"), exception("throttled", "second of two")]);
    assert.equal((await githubRequests("throttled")).length, 1);
    const waiting = await rows("throttled");
    assert.equal(waiting.length, 2);
    for (const row of waiting) {
      assert.ok(row.next_attempt_at >= before + 600_000, `next attempt ${row.next_attempt_at - before} ms later`);
    }
    await platform.cron(COLLECTOR, RETRY_CRON, before + 300_000);
    assert.equal((await issues("throttled")).length, 0);
    // Once GitHub's wait is over, the cron files both, the one tried and the one the halt deferred.
    await platform.cron(COLLECTOR, RETRY_CRON, Math.max(...waiting.map((r) => r.next_attempt_at)) + 1000);
    assert.equal((await issues("throttled")).length, 2);
  });

  it("waits for the rate-limit reset when GitHub's quota is used up", async () => {
    await mapScript("quota", "acme/quota");
    const reset = Math.floor(Date.now() / 1000) + 1800;
    await platform.fakes.failNext("github", 403, {
      headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(reset) },
      body: { message: "API rate limit exceeded" },
    });
    await tail([exception("quota", "quota used up")]);
    const [row] = await rows("quota");
    assert.equal(row.next_attempt_at, reset * 1000);
    assert.match(row.last_error, /403/);
  });

  it("retries a 422 without the optional fields", async () => {
    await mapScript("strict", "acme/strict");
    await platform.fakes.failNext("github", 422, { count: 1, body: { message: "Validation Failed" } });
    await tail([exception("strict", "labels refused")]);
    const found = await issues("strict");
    assert.equal(found.length, 1);
    assert.deepEqual(found[0].labels, []);
  });

  it("never sends secrets from URLs and logs to GitHub, and sends GitHub's required headers", async () => {
    await mapScript("leaky", "acme/leaky");
    const secrets = ["SECRETQUERYVALUE", "sessioncookie123", "jane.doe@example.com", "bearerSECRET999", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "hunter2pass"];
    await tail([
      { ...exception("leaky", "login failed for jane.doe@example.com with password=hunter2pass", {
        url: "https://app.example/login?token=SECRETQUERYVALUE&next=/home",
        logs: [
          { level: "log", message: ["headers", { authorization: "Bearer bearerSECRET999", cookie: "session=sessioncookie123" }], timestamp: Date.now() },
          { level: "info", message: ["jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"], timestamp: Date.now() },
        ],
      }), scriptVersion: { id: "version-7f3a", tag: "v1.2.3" } },
    ]);
    const requests = await githubRequests("leaky");
    assert.ok(requests.length > 0);
    for (const request of requests) {
      for (const secret of secrets) assert.ok(!`${request.url} ${request.body}`.includes(secret), `${secret} reached GitHub`);
      assert.equal(request.headers["user-agent"], "platform-error-collector");
      assert.equal(request.headers["accept"], "application/vnd.github+json");
      assert.equal(request.headers["x-github-api-version"], "2022-11-28");
      assert.equal(request.headers["authorization"], `Bearer ${TOKEN}`);
    }
    const [issue] = await issues("leaky");
    assert.match(issue.body, /POST https:\/\/app\.example\/login/);
    assert.match(issue.body, /version version-7f3a/);
    assert.match(issue.body, /\[redacted-email\]/);
  });

  it("records events with a null script name and from unmapped scripts, and reports them", async () => {
    await tail([
      { ...exception(null, "anonymous failure"), scriptName: null },
      exception("nobody-mapped-me", "orphan failure"),
    ]);
    const recorded = await platform.d1.all(
      "SELECT script, project, occurrences FROM error_fingerprints WHERE sample IN ('anonymous failure', 'orphan failure') ORDER BY script",
    );
    assert.deepEqual(recorded.map((r) => [r.script, r.project]), [["nobody-mapped-me", "unmapped"], ["unknown-script", "unmapped"]]);
    const health = await (await platform.fetch(COLLECTOR, "/health")).json();
    assert.ok(health.unmapped_scripts.includes("nobody-mapped-me"));
    assert.ok(health.unmapped_scripts.includes("unknown-script"));
    assert.deepEqual({ ...health.github, checked_at: undefined }, { configured: true, authorised: true, login: "platform-bot", checked_at: undefined });
    assert.match(health.github.checked_at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    assert.ok(health.warnings.some((w) => w.includes("nobody-mapped-me")));
  });

  it("records which scripts' tail events arrive, errors or not, and lists them for the operator", async () => {
    const clean = (script) => ({ scriptName: script, outcome: "ok", eventTimestamp: Date.now(), event: { request: { url: "https://app.example/", method: "GET" } }, logs: [] });
    await tail([clean("quiet-app"), clean("quiet-app"), { ...clean(null), scriptName: null }]);
    await tail([clean("quiet-app")]);
    const answer = await admin("GET", "/scripts");
    assert.equal(answer.status, 200);
    const quiet = answer.body.scripts.filter((s) => s.script === "quiet-app");
    assert.equal(quiet.length, 1);
    assert.match(quiet[0].last_event_at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    assert.ok(!answer.body.scripts.some((s) => s.script === "unknown-script"), "an event without a script name names no script");
    const rows = await platform.d1.all("SELECT script FROM tail_scripts WHERE script = 'quiet-app'");
    assert.equal(rows.length, 1);
    assert.equal((await platform.fetch(COLLECTOR, "/scripts")).status, 401, "the list is the operator's");
  });

  it("asks GitHub who the token is at most once an hour, however often /health is read", async () => {
    const userCalls = async () =>
      (await platform.fakes.requests({ service: "github" })).filter((r) => r.method === "GET" && r.url.endsWith("/user")).length;
    await platform.d1.exec("DELETE FROM error_collector_state WHERE key = 'github_check'");
    const before = await userCalls();
    for (let i = 0; i < 5; i++) {
      const health = await (await platform.fetch(COLLECTOR, "/health")).json();
      assert.equal(health.github.authorised, true);
    }
    assert.equal(await userCalls(), before + 1, "one check stands for the hour");
    const [recorded] = await platform.d1.all("SELECT value FROM error_collector_state WHERE key = 'github_check'");
    assert.match(recorded.value, /^[0-9a-f]{16} ok:platform-bot$/, "the token is named by a tag, never stored");
    await platform.d1.exec("UPDATE error_collector_state SET at = at - 3600001 WHERE key = 'github_check'");
    await platform.fetch(COLLECTOR, "/health");
    assert.equal(await userCalls(), before + 2, "an hour later it is checked again");
  });

  it("does not let a malformed tail event break its batch", async () => {
    await mapScript("mixed", "acme/mixed");
    await tail([
      exception("mixed", "first good one"),
      "not a trace item",
      null,
      { scriptName: "mixed", outcome: 42, exceptions: "nope", logs: { level: "error" }, event: 7 },
      { scriptName: "mixed", outcome: "exception", exceptions: [null, { name: 5, message: { deep: true } }] },
      exception("mixed", "second good one"),
    ]);
    const samples = (await rows("mixed")).map((r) => r.sample);
    assert.ok(samples.includes("first good one"));
    assert.ok(samples.includes("second good one"));
  });

  it("escalates a repeating soft error from P3 to P2 and relabels its issue", async () => {
    await mapScript("soft", "acme/soft");
    await tail([softError("soft", "cache refresh failed after 120 ms")]);
    let [issue] = await issues("soft");
    assert.ok(issue.labels.some((l) => l.name === "cf:priority:p3"));
    assert.ok(issue.labels.some((l) => l.name === "cf:error:soft-error"));
    await tail(Array.from({ length: 5 }, (_, i) => softError("soft", `cache refresh failed after ${i} ms`)));
    [issue] = await issues("soft");
    assert.ok(issue.labels.some((l) => l.name === "cf:priority:p2"));
    const [row] = await rows("soft");
    assert.equal(row.occurrences, 6);
    assert.equal(row.priority, "P2");
  });

  it("applies a person's close, reopen and mute on GitHub at once, through the signed webhook", async () => {
    await mapScript("hooked", "acme/hooked");
    const [early, silenced] = ["closed too early", "silenced on github"];
    await tail([exception("hooked", early), exception("hooked", silenced)]);
    const byMessage = Object.fromEntries((await rows("hooked")).map((r) => [r.sample, r]));
    const issueOf = async (row) => (await issues("hooked")).find((i) => i.number === row.issue_number);
    const deliver = async (event, payload, { signature } = {}) => {
      const body = JSON.stringify(payload);
      const response = await platform.fetch(COLLECTOR, "/github/webhook", {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-github-event": event,
          "x-github-delivery": crypto.randomUUID(),
          ...(signature === null ? {} : { "x-hub-signature-256": signature ?? `sha256=${createHmac("sha256", HOOK_SECRET).update(body).digest("hex")}` }),
        },
        body,
      });
      return { status: response.status, body: await response.json() };
    };
    // What GitHub sends after a person acted on the issue.
    const personDid = async (action, row, extra = {}) =>
      deliver("issues", { action, issue: await issueOf(row), repository: { full_name: "acme/hooked" }, sender: { login: "a-person" }, ...extra });

    assert.equal((await deliver("ping", { zen: "Keep it logically awesome." }, { signature: null })).status, 401);
    assert.equal((await deliver("ping", { zen: "Keep it logically awesome." }, { signature: "sha256=00" })).status, 403);
    assert.deepEqual((await deliver("ping", { zen: "Keep it logically awesome." })).body, { event: "ping", applied: false });
    const broken = await deliver("issues", { action: "closed", issue: { number: 1 } });
    assert.equal(broken.status, 400);
    assert.match(broken.body.error, /repository\.full_name/);

    // Closed by hand: resolved at once, so the very next occurrence reopens it as a regression.
    await onGithub("PATCH", `/repos/acme/hooked/issues/${byMessage[early].issue_number}`, { state: "closed" });
    const closed = await personDid("closed", byMessage[early]);
    assert.deepEqual(
      { applied: closed.body.applied, status: closed.body.status, muted: closed.body.muted },
      { applied: true, status: "resolved", muted: false },
    );
    await tail([exception("hooked", early)]);
    const reopened = await issueOf(byMessage[early]);
    assert.equal(reopened.state, "open");
    assert.ok(reopened.labels.some((l) => l.name === "cf:regression"));

    // Muted with a label, then closed: closing keeps it muted, and a recurrence leaves it closed.
    await onGithub("POST", `/repos/acme/hooked/issues/${byMessage[silenced].issue_number}/labels`, { labels: ["cf:muted"] });
    assert.equal((await personDid("labeled", byMessage[silenced], { label: { name: "cf:muted" } })).body.muted, true);
    await onGithub("PATCH", `/repos/acme/hooked/issues/${byMessage[silenced].issue_number}`, { state: "closed" });
    assert.equal((await personDid("closed", byMessage[silenced])).body.muted, true);
    await tail([exception("hooked", silenced)]);
    const stillClosed = await issueOf(byMessage[silenced]);
    assert.equal(stillClosed.state, "closed");
    assert.ok(!stillClosed.labels.some((l) => l.name === "cf:regression"));
    const [row] = (await rows("hooked")).filter((r) => r.sample === silenced);
    assert.deepEqual([row.status, row.muted, row.occurrences], ["resolved", 1, 2]);

    // Issues the collector did not file are left alone.
    const foreign = await deliver("issues", { action: "closed", issue: { number: 999, labels: [] }, repository: { full_name: "acme/hooked" } });
    assert.deepEqual(foreign.body, { event: "issues", applied: false });
  });

  it("limits GitHub writes per script per hour but still counts every error", async () => {
    await mapScript("noisy", "acme/noisy");
    await tail(Array.from({ length: 12 }, (_, i) => exception("noisy", `distinct failure ${String.fromCharCode(97 + i)}`)));
    assert.equal((await issues("noisy")).length, 10);
    const recorded = await rows("noisy");
    assert.equal(recorded.length, 12);
    assert.equal(recorded.filter((r) => r.issue_number === null && r.next_attempt_at > Date.now()).length, 2);
  });

  it("lists, shows, mutes and unmutes errors for the operator only", async () => {
    await mapScript("ops", "acme/ops");
    await tail([exception("ops", "operator visible")]);
    assert.equal((await platform.fetch(COLLECTOR, "/errors")).status, 401);
    const listed = await admin("GET", "/errors?script=ops&priority=P1&status=open");
    assert.equal(listed.status, 200);
    assert.equal(listed.body.errors.length, 1);
    const { fingerprint } = listed.body.errors[0];
    assert.equal((await admin("GET", `/errors/${fingerprint}`)).body.occurrences, 1);
    assert.equal((await admin("GET", "/errors/not-a-fingerprint")).status, 400);
    assert.equal((await admin("GET", "/errors?priority=P9")).status, 400);
    const labelled = async () => (await issues("ops"))[0].labels.some((l) => l.name === "cf:muted");
    assert.equal((await admin("POST", `/errors/${fingerprint}/mute`)).body.muted, 1);
    assert.equal((await admin("GET", "/errors?script=ops&status=muted")).body.errors.length, 1);
    assert.ok(await labelled());
    assert.equal((await admin("POST", `/errors/${fingerprint}/unmute`)).body.muted, 0);
    assert.ok(!(await labelled()), "unmuting removes cf:muted from the issue");
  });

  it("batches warnings into one digest issue per project per day", async () => {
    await mapScript("warny", "acme/warny");
    const warn = (message) => ({
      scriptName: "warny",
      outcome: "ok",
      eventTimestamp: Date.now(),
      event: { request: { url: "https://app.example/x", method: "GET" } },
      logs: [{ level: "warn", message: [message], timestamp: Date.now() }],
    });
    await tail([warn("slow query took 812 ms"), warn("slow query took 90 ms"), warn("cache cold for key 7")]);
    assert.equal((await issues("warny")).length, 0);
    const recorded = await rows("warny");
    assert.deepEqual(recorded.map((r) => [r.kind, r.priority]), [["warning", "P4"], ["warning", "P4"]]);
    const nextDay = Math.floor(Date.now() / DAY_MS) * DAY_MS + DAY_MS + 600_000;
    await platform.cron(COLLECTOR, DIGEST_CRON, nextDay);
    await platform.cron(COLLECTOR, DIGEST_CRON, nextDay + 60_000);
    const found = await issues("warny");
    assert.equal(found.length, 1);
    assert.match(found[0].title, /^Warning digest: warny \(\d{4}-\d{2}-\d{2}, 2 warnings\)$/);
    assert.match(found[0].body, /`slow query took \d+ ms` \| 2 \|/, "a message is shown as code");
    assert.ok(found[0].labels.some((l) => l.name === "cf:digest"));
  });

  it("files a coverage-gap issue at most once per project per day, only after GitHub accepted it", async () => {
    const gap = { project: "gappy", repository: "acme/gappy", coverage: 42, details: { missing: ["d1"] } };
    assert.equal((await platform.fetch(COLLECTOR, "/gap-alerts", { method: "POST", body: JSON.stringify(gap) })).status, 401);
    await platform.fakes.failNext("github", 503, { count: 1 });
    assert.equal((await admin("POST", "/gap-alerts", gap)).status, 502);
    assert.equal((await platform.kv.list("GAP_ALERT:gappy:")).length, 0);
    const first = await admin("POST", "/gap-alerts", gap);
    assert.equal(first.body.filed, true);
    const second = await admin("POST", "/gap-alerts", gap);
    assert.equal(second.body.filed, false);
    const found = await issues("gappy");
    assert.equal(found.length, 1);
    assert.match(found[0].title, /Data coverage gap: gappy at 42%/);
    assert.equal((await platform.kv.list("GAP_ALERT:gappy:")).length, 1);
  });
});

// The collector watching itself, on platforms of their own: the account-wide cap and the handler
// stamps are account-wide state that the tests above would disturb, and that would disturb each other.
const WEBHOOK = "https://hooks.slack.com/services/T000/B000/collector-tests";
const startOfTomorrow = () => Math.floor(Date.now() / DAY_MS) * DAY_MS + DAY_MS;
const mapRepository = (platform, script) =>
  platform.kv.put(`SCRIPT_MAP:${script}`, JSON.stringify({ project: script, repository: `acme/${script}`, tier: 1, displayName: script }));
const failure = (script, message) => ({
  scriptName: script,
  outcome: "exception",
  eventTimestamp: Date.now(),
  event: { request: { url: "https://app.example/", method: "GET" } },
  exceptions: [{ name: "Error", message, timestamp: Date.now() }],
  logs: [],
});
const healthOf = async (platform) => (await platform.fetch(COLLECTOR, "/health")).json();
const slackTextsOf = async (platform, needle) =>
  (await platform.fakes.requests({ service: "slack" })).map((r) => JSON.parse(r.body).text).filter((t) => t.includes(needle));
const collectorAlerts = (platform, subject) =>
  platform.d1.all("SELECT * FROM alert_outbox WHERE kind = 'collector' AND subject LIKE ?", subject);

describe("error-collector's account-wide daily cap", () => {
  let platform;
  before(async () => {
    platform = await startPlatform({
      workers: ["error-collector"],
      secrets: { GITHUB_TOKEN: TOKEN, SLACK_WEBHOOK_URL: WEBHOOK, ERROR_ACCOUNT_DAILY_LIMIT: "2" },
    });
  });
  after(() => platform?.dispose());

  it("caps issue creations across the account per day, counts every error, and files the rest the next day", async () => {
    for (const script of ["cap-a", "cap-b", "cap-c"]) await mapRepository(platform, script);
    await platform.tail(COLLECTOR, [failure("cap-a", "alpha broke")]);
    await platform.tail(COLLECTOR, [failure("cap-b", "beta broke")]);
    await platform.tail(COLLECTOR, [failure("cap-c", "gamma broke"), failure("cap-c", "gamma broke")]);
    const filed = async () => (await platform.fakes.issues({ owner: "acme" })).filter((i) => /^\[cap-/.test(i.title));
    assert.equal((await filed()).length, 2);
    const [waiting] = await platform.d1.all("SELECT * FROM error_fingerprints WHERE script = 'cap-c'");
    assert.equal(waiting.occurrences, 2);
    assert.equal(waiting.issue_number, null);
    assert.equal(waiting.last_error, "daily issue cap of the account");
    assert.equal(waiting.next_attempt_at, startOfTomorrow());
    const seen = await healthOf(platform);
    assert.deepEqual(seen.issues_created_today, { count: 2, account_daily_limit: 2 });
    assert.ok(seen.warnings.some((w) => w.includes("daily issue cap (2) is reached")));
    // Raised once however often the cap is hit.
    await platform.tail(COLLECTOR, [failure("cap-c", "gamma broke again differently")]);
    assert.equal((await collectorAlerts(platform, "warning:account-daily-cap:%")).length, 1);

    // The next UTC day the retry cron files what waited, and delivers the alert.
    await platform.cron(COLLECTOR, RETRY_CRON, startOfTomorrow() + 60_000);
    assert.equal((await filed()).length, 4);
    const [alert] = await slackTextsOf(platform, "daily cap (ERROR_ACCOUNT_DAILY_LIMIT=2)");
    assert.match(alert, /2 GitHub issues were created today/);
  });
});

describe("error-collector watching itself", () => {
  let platform;
  before(async () => {
    platform = await startPlatform({ workers: ["error-collector"], secrets: { GITHUB_TOKEN: TOKEN, SLACK_WEBHOOK_URL: WEBHOOK } });
  });
  after(() => platform?.dispose());

  const handler = async (name) => (await healthOf(platform)).handlers.find((h) => h.name === name);

  it("alerts once when GitHub refuses the token, and keeps recording errors", async () => {
    await mapRepository(platform, "locked-out");
    for (const message of ["first refusal", "second refusal"]) {
      await platform.fakes.failNext("github", 401, { count: 1, body: { message: "Bad credentials" } });
      await platform.tail(COLLECTOR, [failure("locked-out", message)]);
    }
    const recorded = await platform.d1.all("SELECT last_error FROM error_fingerprints WHERE script = 'locked-out'");
    assert.equal(recorded.length, 2);
    assert.ok(recorded.every((r) => /401/.test(r.last_error)));
    assert.equal((await collectorAlerts(platform, "critical:github-token")).length, 1);
    assert.match((await healthOf(platform)).last_github_error.value, /GitHub 401: Bad credentials/);
    await platform.cron(COLLECTOR, RETRY_CRON, Date.now());
    const [alert] = await slackTextsOf(platform, "GitHub refused");
    assert.match(alert, /GitHub 401: Bad credentials/);
    assert.match(alert, /Issues read and write/);
  });

  it("stamps each handler's runs, runs a failed digest again, and alerts when a cron goes quiet", async () => {
    await mapRepository(platform, "quiet");
    await platform.tail(COLLECTOR, [
      { ...failure("quiet", "unused"), outcome: "ok", exceptions: [], logs: [{ level: "warn", message: ["disk almost full"], timestamp: Date.now() }] },
    ]);
    const tailRun = await handler("tail");
    assert.equal(tailRun.condition, "healthy");
    assert.ok(Date.parse(tailRun.last_run_at) > Date.now() - 600_000);

    const digestAt = startOfTomorrow() + 600_000;
    await platform.fakes.failNext("github", 502, { count: 1 });
    await platform.cron(COLLECTOR, DIGEST_CRON, digestAt);
    const digestIssues = async () =>
      (await platform.fakes.issues({ owner: "acme", repo: "quiet" })).filter((i) => /^Warning digest/.test(i.title));
    assert.equal((await digestIssues()).length, 0);
    const failing = await handler("digest");
    assert.equal(failing.condition, "failing");
    assert.equal(failing.consecutive_failures, 1);
    assert.ok((await healthOf(platform)).warnings.some((w) => w.includes("handler digest failed its last 1 run(s)")));

    // The */15 upkeep runs it again the same day.
    await platform.cron(COLLECTOR, RETRY_CRON, digestAt + 300_000);
    assert.equal((await digestIssues()).length, 1);
    assert.equal((await handler("digest")).condition, "healthy");

    // Three days without a digest run: stale, alerted as critical, once.
    const later = digestAt + 3 * DAY_MS;
    await platform.cron(COLLECTOR, RETRY_CRON, later);
    await platform.cron(COLLECTOR, RETRY_CRON, later + 900_000);
    assert.equal((await collectorAlerts(platform, "critical:handler:digest")).length, 1);
    const alerts = await slackTextsOf(platform, "handler digest has not run since");
    assert.equal(alerts.length, 1);
    assert.match(alerts[0], /expected every 1440 min/);
    // The retry is stamped before the upkeep runs on the same cron, and the upkeep, running, is
    // not stale to itself: after the pause neither is alerted.
    assert.equal((await collectorAlerts(platform, "%:handler:retry")).length, 0);
    assert.equal((await collectorAlerts(platform, "%:handler:upkeep")).length, 0);
    const health = await healthOf(platform);
    assert.deepEqual(health.handlers.map((h) => h.name), ["tail", "requeued", "retry", "upkeep", "digest"]);
    assert.equal(health.handlers.find((h) => h.name === "upkeep").condition, "healthy");
  });
});
