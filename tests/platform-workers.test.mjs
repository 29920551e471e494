// Every platform worker boots from its wrangler config and answers /health; platform-usage's /settings
// is guarded by ADMIN_TOKEN and cached in the shared KV (cache-aside over D1).

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { startPlatform } from "./harness/platform.mjs";

const SETTINGS_CACHE_KEY = "CONFIG:SETTINGS:ALL";
const SETTINGS_CACHE_TTL_SECONDS = 3600;
// KV expirations are whole seconds; allow for that and for the time a request takes.
const CLOCK_SLACK_MS = 60_000;
const SEMVER = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;

describe("platform workers", () => {
  let platform;
  before(async () => {
    platform = await startPlatform();
  });
  after(() => platform?.dispose());

  describe("GET /health", () => {
    it("is answered by every worker in wrangler/ with its name, ownership and bindings", async () => {
      assert.ok(platform.workers.length > 0);
      for (const config of platform.workers) {
        const response = await platform.fetch(config.name, "/health");
        assert.equal(response.status, 200, config.name);
        const health = await response.json();
        assert.equal(health.worker, config.name);
        assert.match(health.version, SEMVER, `${config.name} version`);
        assert.ok(Array.isArray(health.owns) && health.owns.length > 0, `${config.name} owns no KV key patterns`);
        assert.ok(health.owns.every((pattern) => typeof pattern === "string" && pattern !== ""), `${config.name} owns`);

        const declared = [
          ...Object.keys(config.kv),
          ...Object.keys(config.d1),
          ...Object.keys(config.queueProducers),
          ...Object.keys(config.services),
          "ADMIN_TOKEN",
        ];
        for (const binding of declared) assert.equal(health.bindings?.[binding], true, `${config.name} binding ${binding}`);
        // Only optional bindings may be missing, and each missing one is explained in a warning.
        assert.equal(health.ok, true, `${config.name} ok`);
        for (const [binding, present] of Object.entries(health.bindings)) {
          if (!present) assert.ok(health.warnings.some((w) => w.startsWith(`${binding} is not set`)), `${config.name} ${binding}`);
        }
      }
    });

    it("answers JSON 404 for an unknown path and 405 with Allow for a known path's wrong method", async () => {
      for (const config of platform.workers) {
        const unknown = await platform.fetch(config.name, "/no-such-route");
        assert.equal(unknown.status, 404, config.name);
        assert.deepEqual(await unknown.json(), { error: "no route for GET /no-such-route" }, config.name);
        const wrong = await platform.fetch(config.name, "/health", { method: "POST" });
        assert.equal(wrong.status, 405, config.name);
        assert.equal(wrong.headers.get("allow"), "GET", config.name);
        assert.match((await wrong.json()).error, /POST is not allowed on \/health/, config.name);
      }
      // Before any token is checked: the table, not the caller, decides.
      const usage = platform.workers.find((config) => config.crate === "platform-usage").name;
      const settings = await platform.fetch(usage, "/settings", { method: "DELETE" });
      assert.equal(settings.status, 405);
      assert.equal(settings.headers.get("allow"), "GET, PUT");
    });

    it("says when alerts cannot be delivered", async () => {
      const usage = platform.workers.find((config) => config.crate === "platform-usage").name;
      const health = await (await platform.fetch(usage, "/health")).json();
      assert.equal(health.bindings.SLACK_WEBHOOK_URL, false);
      assert.deepEqual(health.warnings, [
        "CLOUDFLARE_API_TOKEN is not set: the account's own usage is not collected, /cost shows no billed actual and the plan comes from budgets.yaml",
        "SLACK_WEBHOOK_URL is not set: alerts are kept pending, not delivered",
      ]);
    });
  });

  describe("GET /settings", () => {
    let usage;
    before(() => {
      usage = platform.workers.find((config) => config.crate === "platform-usage").name;
    });
    beforeEach(async () => {
      await platform.kv.delete(SETTINGS_CACHE_KEY);
      await platform.d1.exec("DELETE FROM settings");
    });

    const settings = async () => {
      const response = await platform.adminFetch(usage, "/settings");
      assert.equal(response.status, 200);
      return response.json();
    };

    it("refuses a request without a token (401) and with a wrong one (403)", async () => {
      const anonymous = await platform.fetch(usage, "/settings");
      assert.equal(anonymous.status, 401);
      assert.equal(typeof (await anonymous.json()).error, "string");

      const wrong = await platform.fetch(usage, "/settings", { headers: { Authorization: "Bearer not-the-token" } });
      assert.equal(wrong.status, 403);
      assert.equal(typeof (await wrong.json()).error, "string");
      assert.equal(await platform.kv.get(SETTINGS_CACHE_KEY), null, "a refused request must not fill the cache");
    });

    it("answers the defaults and caches them in KV with a TTL and writer metadata", async () => {
      const before = Date.now();
      assert.deepEqual(await settings(), {
        settings: {
          budget_warning_thresholds: [70, 90], cb_cooldown_seconds: 300, cb_max_consecutive_trips: 3, budget_soft_limit: 25, d1_write_limit: 1000000,
        },
        problems: [],
        cached: false,
      });

      const [entry, ...others] = await platform.kv.list(SETTINGS_CACHE_KEY);
      assert.equal(entry?.name, SETTINGS_CACHE_KEY);
      assert.deepEqual(others, []);
      const expectedExpiryMs = before + SETTINGS_CACHE_TTL_SECONDS * 1000;
      assert.ok(Math.abs(entry.expiration * 1000 - expectedExpiryMs) < CLOCK_SLACK_MS, `expiration ${entry.expiration}`);

      const { metadata } = await platform.kv.getWithMetadata(SETTINGS_CACHE_KEY);
      assert.equal(metadata?.writer, "platform-usage");
      assert.ok(Math.abs(metadata.written_at - before) < CLOCK_SLACK_MS, `written_at ${metadata.written_at}`);

      assert.equal((await settings()).cached, true);
    });

    it("keeps serving the cache after a D1 change until the cache key is deleted", async () => {
      assert.equal((await settings()).settings.cb_cooldown_seconds, 300);
      await platform.d1.exec("INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)", "cb_cooldown_seconds", "600", Date.now());
      await platform.d1.exec("INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)", "budget_warning_thresholds", "90,70", Date.now());

      const cached = await settings();
      assert.equal(cached.cached, true);
      assert.equal(cached.settings.cb_cooldown_seconds, 300);

      await platform.kv.delete(SETTINGS_CACHE_KEY);
      const fresh = await settings();
      assert.equal(fresh.cached, false);
      assert.equal(fresh.settings.cb_cooldown_seconds, 600);
      // An invalid row is reported and its default kept.
      assert.deepEqual(fresh.settings.budget_warning_thresholds, [70, 90]);
      assert.deepEqual(fresh.problems.map(({ key, value }) => ({ key, value })), [{ key: "budget_warning_thresholds", value: "90,70" }]);
    });
  });
});
