// The operator's config, applied by sync-config, is what platform-usage enforces on the test
// consumer: the two workers agree on the keys and values between them.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
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

describe("config applied by sync-config, enforced by platform-usage", () => {
  let platform;
  const name = (crate) => platform.workers.find((config) => config.crate === crate).name;
  before(async () => {
    platform = await startPlatform({ workers: ["sync-config", "platform-usage"], consumer: true, queueBatchTimeout: 0 });
  });
  after(() => platform?.dispose());

  it("stops the consumer at the limit the config sets, with the thresholds it sets", async () => {
    const applied = await platform.adminFetch(name("sync-config"), "/sync", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ services: SERVICES, budgets: BUDGETS }),
    });
    assert.equal(applied.status, 200, await applied.clone().text());

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
});
