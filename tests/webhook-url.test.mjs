// A configured webhook URL is used exactly as written or refused with a reason: the workers carry
// no IDNA tables, so a host that is not ASCII is refused (write it as punycode) rather than sent
// somewhere else. Alerts wait in the outbox meanwhile, and nothing reaches any Slack.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startPlatform } from "./harness/platform.mjs";

const SWEEP_CRON = "*/5 * * * *";

describe("a webhook URL with a non-ASCII host", () => {
  let platform;
  let usage;
  before(async () => {
    platform = await startPlatform({
      workers: ["platform-usage"],
      secrets: { SLACK_WEBHOOK_URL: "https://hööks.slack.com/services/T000/B000/idn" },
    });
    usage = platform.workers[0].name;
  });
  after(() => platform?.dispose());

  const admin = async (method, path, body) => {
    const response = await platform.adminFetch(usage, path, {
      method,
      headers: { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() };
  };

  it("is reported by /health with what to write instead", async () => {
    const health = await (await platform.fetch(usage, "/health")).json();
    assert.equal(health.ok, true);
    assert.deepEqual(health.warnings.filter((w) => w.startsWith("SLACK_WEBHOOK_URL")), [
      'SLACK_WEBHOOK_URL is refused: the host "hööks.slack.com" is not ASCII: write an international domain name in its punycode form (xn--...); it is not converted; alerts are kept pending',
    ]);
  });

  it("keeps alerts pending and sends nothing, through the sweep too", async () => {
    assert.equal((await admin("POST", "/global-stop", { enabled: true, reason: "idn webhook" })).status, 200);
    const status = (await admin("GET", "/status")).body;
    assert.equal(status.alerts.webhook_configured, false);
    assert.equal(status.alerts.pending, 1);
    await platform.cron(usage, SWEEP_CRON, Date.now());
    assert.equal((await admin("GET", "/status")).body.alerts.pending, 1, "still pending, not dropped");
    assert.deepEqual(await platform.fakes.requests({ service: "slack" }), []);
    const health = await (await platform.fetch(usage, "/health")).json();
    const sweep = health.handlers.find((handler) => handler.name === "sweep");
    assert.match(sweep.last_error ?? JSON.stringify(sweep), /SLACK_WEBHOOK_URL is refused/);
    await admin("POST", "/global-stop", { enabled: false });
  });
});
