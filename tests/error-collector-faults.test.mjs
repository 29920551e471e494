// error-collector under faults: GitHub losing, garbling, throttling or never sending its answers,
// D1 refusing the counts mid-batch, replayed webhook deliveries, unreadable event parts, floods of
// error logs, secrets in every part of an event.

import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { pollUntil } from "./harness/poll.mjs";
import { startPlatform } from "./harness/platform.mjs";

const COLLECTOR = "platform-error-collector";
const RETRY_CRON = "*/15 * * * *";
const TOKEN = "ghp_collectorFaultToken0123456789abcdef";
const HOOK_SECRET = "webhook-secret-for-fault-tests";
const HOUR_MS = 3_600_000;

describe("error-collector under faults", () => {
  let platform;
  const reports = [];
  before(async () => {
    platform = await startPlatform({
      workers: ["error-collector"],
      secrets: { GITHUB_TOKEN: TOKEN, GITHUB_WEBHOOK_SECRET: HOOK_SECRET },
      // The handlers' one-line JSON reports, for the invocation's own D1 figures.
      handleRuntimeStdio(stdout, stderr) {
        let pending = "";
        stdout.on("data", (chunk) => {
          pending += chunk;
          const lines = pending.split("\n");
          pending = lines.pop();
          for (const line of lines) {
            const start = line.indexOf("{");
            if (start < 0) continue;
            try {
              reports.push(JSON.parse(line.slice(start)));
            } catch {}
          }
        });
        stderr.resume();
      },
    });
  });
  after(() => platform?.dispose());

  const mapScript = (script) =>
    platform.kv.put(`SCRIPT_MAP:${script}`, JSON.stringify({ project: script, repository: `acme/${script}`, tier: 1, displayName: script }));
  const exception = (script, message, { url = "https://app.example/api/orders", logs = [] } = {}) => ({
    scriptName: script,
    outcome: "exception",
    eventTimestamp: Date.now(),
    event: { request: { url, method: "POST", headers: {} } },
    exceptions: [{ name: "Error", message, timestamp: Date.now() }],
    logs,
  });
  const tail = (events) => platform.tail(COLLECTOR, events);
  const issues = (repo) => platform.fakes.issues({ owner: "acme", repo });
  const rows = (script) => platform.d1.all("SELECT * FROM error_fingerprints WHERE script = ? ORDER BY first_seen", script);
  const retry = (at) => platform.cron(COLLECTOR, RETRY_CRON, at);

  it("files one issue when GitHub created it but its answer was lost (502)", async () => {
    await mapScript("lost");
    await platform.fakes.githubFault("lost-create");
    await tail([exception("lost", "checkout failed")]);
    const [row] = await rows("lost");
    assert.equal(row.issue_number, null);
    assert.equal(row.attempts, 1);
    assert.equal((await issues("lost")).length, 1, "GitHub holds the issue the collector could not see");
    await retry(row.next_attempt_at + 1);
    const [after] = await rows("lost");
    assert.equal((await issues("lost")).length, 1, "the retry found the issue instead of filing a second one");
    assert.equal(after.issue_number, (await issues("lost"))[0].number);
  });

  it("files the errors of a script whose SCRIPT_MAP was written by hand without displayName or tier", async () => {
    await platform.kv.put("SCRIPT_MAP:by-hand", JSON.stringify({ project: "by-hand", repository: "acme/by-hand" }));
    await tail([exception("by-hand", "refund failed")]);
    const [row] = await rows("by-hand");
    assert.equal(row.project, "by-hand");
    const filed = await issues("by-hand");
    assert.equal(filed.length, 1);
    assert.equal(row.issue_number, filed[0].number);
  });

  it("takes 250 tail batches in one Miniflare (through Miniflare's proxy, Node hung after 80 to 170)", async () => {
    await mapScript("many");
    for (let i = 0; i < 250; i++) await tail([exception("many", "the same failure")]);
    const [row] = await rows("many");
    assert.equal(row.occurrences, 250);
    assert.equal((await issues("many")).length, 1);
  });

  it("repairs a creation answered 201 with an unreadable body", async () => {
    await mapScript("garbled");
    await platform.fakes.githubFault("unreadable-create");
    await tail([exception("garbled", "cart failed")]);
    const [row] = await rows("garbled");
    assert.equal(row.issue_number, null, "no issue 0 recorded");
    assert.match(row.last_error, /no issue number/);
    await retry(row.next_attempt_at + 1);
    const [after] = await rows("garbled");
    const found = await issues("garbled");
    assert.equal(found.length, 1);
    assert.equal(after.issue_number, found[0].number);
  });

  it("caps a Retry-After of 10^12 seconds at an hour", async () => {
    await mapScript("throttled");
    await platform.fakes.githubFault("huge-retry-after");
    const before = Date.now();
    await tail([exception("throttled", "payment failed")]);
    const [row] = await rows("throttled");
    assert.equal(row.issue_number, null);
    assert.ok(row.next_attempt_at <= Date.now() + HOUR_MS, `retry at ${new Date(row.next_attempt_at).toISOString()}`);
    assert.ok(row.next_attempt_at >= before);
    await retry(row.next_attempt_at + 1);
    assert.equal((await issues("throttled")).length, 1, "filed once GitHub's capped wait is over");
  });

  it("gives up on a GitHub that does not answer within the call's time limit", async () => {
    await mapScript("hung");
    await platform.fakes.githubFault("hang");
    const started = Date.now();
    await tail([exception("hung", "shipping failed")]);
    const took = Date.now() - started;
    assert.ok(took < 20_000, `the tail batch took ${took} ms with GitHub hanging 30 s`);
    const [row] = await rows("hung");
    assert.equal(row.issue_number, null);
    assert.match(row.last_error, /no answer within 10 s/);
  });

  it("keeps a tail batch's events when D1 refuses its counts, and records them from the queue", async () => {
    await mapScript("refused");
    await platform.d1.exec("ALTER TABLE error_fingerprints RENAME TO error_fingerprints_away");
    try {
      await tail([exception("refused", "inventory failed"), exception("refused", "inventory failed")]);
    } finally {
      await platform.d1.exec("ALTER TABLE error_fingerprints_away RENAME TO error_fingerprints");
    }
    const recorded = await pollUntil(async () => (await rows("refused"))[0], { what: "the refused counts recorded from the queue", timeoutMs: 30_000 });
    assert.equal(recorded.occurrences, 2);
    assert.equal((await issues("refused")).length, 1);
  });

  it("applies a webhook delivery once, however often it is replayed", async () => {
    await mapScript("replayed");
    await tail([exception("replayed", "refund failed")]);
    const [row] = await rows("replayed");
    const [issue] = await issues("replayed");
    const deliver = async (id, action) => {
      const body = JSON.stringify({ action, issue: { ...issue, state: action === "closed" ? "closed" : "open" }, repository: { full_name: "acme/replayed" } });
      const response = await platform.fetch(COLLECTOR, "/github/webhook", {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-github-event": "issues",
          "x-github-delivery": id,
          "x-hub-signature-256": `sha256=${createHmac("sha256", HOOK_SECRET).update(body).digest("hex")}`,
        },
        body,
      });
      assert.equal(response.status, 200);
      return response.json();
    };
    assert.equal((await deliver("delivery-closed", "closed")).applied, true);
    assert.equal((await deliver("delivery-reopened", "reopened")).applied, true);
    const replay = await deliver("delivery-closed", "closed");
    assert.deepEqual(replay, { event: "issues", applied: false, duplicate: "delivery-closed" });
    const [after] = await rows("replayed");
    assert.equal(after.status, "open", "the replayed close was not applied over the later reopen");
    assert.equal(after.fingerprint, row.fingerprint);
  });

  it("records an error whose log argument is nested 200 deep or holds a BigInt, with that part truncated", async () => {
    await mapScript("odd");
    let deep = "bottom";
    for (let i = 0; i < 200; i++) deep = { down: deep };
    await tail([
      exception("odd", "deep log failed", { logs: [{ level: "log", message: ["context", deep], timestamp: Date.now() }] }),
      { ...exception("odd", "bigint field failed", { logs: [{ level: "log", message: ["amount", 12345678901234567890n], timestamp: Date.now() }] }), eventTimestamp: Date.now(), cpuTime: 5n },
    ]);
    const found = Object.fromEntries((await rows("odd")).map((r) => [r.sample, r]));
    assert.ok(found["deep log failed"], "the deeply nested event was recorded");
    assert.match(found["deep log failed"].last_logs, /truncated: nested too deep/);
    assert.ok(found["bigint field failed"], "the event with BigInts was recorded");
    assert.match(found["bigint field failed"].last_logs, /12345678901234567890n/);
  });

  it("keeps one event with 10,000 error logs well under 1,000 D1 queries per invocation", async () => {
    await mapScript("chatty");
    const logs = Array.from({ length: 10_000 }, (_, i) => ({
      level: "error",
      message: [`step ${String.fromCharCode(97 + (i % 26), 97 + ((i / 26) % 26), 97 + ((i / 676) % 26))} failed`],
      timestamp: Date.now(),
    }));
    const seen = reports.length;
    await tail([exception("chatty", "job failed", { logs })]);
    const report = await pollUntil(() => reports.slice(seen).find((r) => r.events !== undefined && r.d1_statements !== undefined), {
      what: "the batch's report",
    });
    assert.ok(report.d1_statements < 300, `${report.d1_statements} D1 statements`);
    assert.ok((await rows("chatty")).length <= 21);
  });

  it("masks secrets in the request path and query, the message and the logs of a filed issue", async () => {
    await mapScript("leaky");
    const secrets = ["sk_live_51HcQx2Lm4Vb7Nc1Kd9Rt5Yw3Pz", "hunter2", "4111 1111 1111 1111", "AKIAIOSFODNN7EXAMPLE", "tok7fK2pQ9xLm", "Zx8Qp2Lm4Vb7Nc1Kd9Rt5Yw3"];
    await tail([
      exception("leaky", "charge failed with sk_live_51HcQx2Lm4Vb7Nc1Kd9Rt5Yw3Pz for card 4111 1111 1111 1111 @octocat [x](https://evil.example)", {
        url: "https://app.example/reset-password/tok7fK2pQ9xLm?password=hunter2",
        logs: [{ level: "error", message: ["aws AKIAIOSFODNN7EXAMPLE hook https://hooks.slack.com/services/T0ABCDEF1/B0ABCDEF2/Zx8Qp2Lm4Vb7Nc1Kd9Rt5Yw3"], timestamp: Date.now() }],
      }),
    ]);
    const [issue] = await issues("leaky");
    for (const secret of secrets) {
      assert.ok(!issue.body.includes(secret) && !issue.title.includes(secret), `${secret} reached GitHub:\n${issue.title}\n${issue.body}`);
    }
    assert.ok(!issue.title.includes("@"), issue.title);
  });
});
