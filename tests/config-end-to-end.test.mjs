// The operator's config, applied by sync-config, is what the other workers act on: platform-usage
// enforces its budgets on the test consumer, and the error collector files a script's errors under
// the project and repository the config maps it to. The workers meet only through KV and D1.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { syncBody } from "../scripts/lib/config-files.mjs";
import { featureReasonKey } from "./consumer/keys.mjs";
import { startPlatform } from "./harness/platform.mjs";
import { pollUntil } from "./harness/poll.mjs";

const SERVICES = `
projects:
  e2e:
    display_name: End to end
    repository: acme/e2e
    tier: 2
    scripts: [e2e-api]
    features:
      api:
        main: {}
`;

const BUDGETS = `
defaults:
  daily: {kv_writes: 1_000}
  warning_thresholds: [50, 80]
features:
  "e2e:api:main":
    daily: {kv_writes: 2}
`;

describe("a config applied by sync-config", () => {
  let platform;
  const name = (crate) => platform.workers.find((config) => config.crate === crate).name;
  before(async () => {
    platform = await startPlatform({
      workers: ["sync-config", "platform-usage", "error-collector"],
      consumer: true,
      queueBatchTimeout: 0,
      secrets: { GITHUB_TOKEN: "ghp_end_to_end" },
    });
    const applied = await platform.adminFetch(name("sync-config"), "/sync", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(syncBody({ services: SERVICES, budgets: BUDGETS }).body),
    });
    assert.equal(applied.status, 200, await applied.clone().text());
  });
  after(() => platform?.dispose());

  it("stops the consumer at the limit the config sets, with the thresholds it sets", async () => {
    const settings = await (await platform.adminFetch(name("platform-usage"), "/settings")).json();
    assert.deepEqual(settings.settings.budget_warning_thresholds, [50, 80]);

    // The consumer's KV steps cycle write, read, list, delete: kv=5 makes two writes.
    assert.equal((await platform.fetch("test-consumer", "/work?feature=e2e:api:main&kv=5")).status, 200);
    const reason = await pollUntil(() => platform.kv.get(featureReasonKey("e2e:api:main")).then((v) => v ?? undefined), {
      what: "the trip",
    });
    assert.match(reason, /^daily budget exceeded: kv_writes = 2 of 2 /);
    const refused = await platform.fetch("test-consumer", "/work?feature=e2e:api:main&kv=1");
    assert.equal(refused.status, 503);
    assert.equal((await refused.json()).reason, reason);
  });

  it("files a mapped script's errors under the project and repository the config gives it", async () => {
    const at = Date.now();
    await platform.tail(name("error-collector"), [
      {
        scriptName: "e2e-api",
        outcome: "exception",
        eventTimestamp: at,
        event: { request: { url: "https://e2e.example/orders", method: "POST", headers: {} } },
        exceptions: [{ name: "Error", message: "ledger unavailable", timestamp: at }],
        logs: [],
        diagnosticsChannelEvents: [],
      },
    ]);
    const listed = await (await platform.adminFetch(name("error-collector"), "/errors?script=e2e-api")).json();
    assert.deepEqual(listed.errors.map((error) => error.project), ["e2e"]);
    const issues = await platform.fakes.issues({ owner: "acme", repo: "e2e" });
    assert.equal(issues.length, 1);
    assert.match(issues[0].title, /ledger unavailable/);
  });
});
