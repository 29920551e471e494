// Self-tests of the harness against the real platform: migrations, the fake third-party APIs, the queue
// and cron helpers.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { migrationFiles } from "./harness/migrations.mjs";
import { startPlatform } from "./harness/platform.mjs";
import { FAKE_APIS } from "./harness/worker-options.mjs";

const GITHUB_HEADERS = { "User-Agent": "harness-test", Authorization: "Bearer gh-token", "content-type": "application/json" };
const CLOUDFLARE_HEADERS = { Authorization: "Bearer cf-token", "content-type": "application/json" };

describe("harness", () => {
  let platform;
  before(async () => {
    platform = await startPlatform({ consumer: true });
  });
  after(() => platform?.dispose());

  describe("migrations", () => {
    it("applies every file of the platform database's migrations_dir once, in name order", async () => {
      const [config] = platform.workers;
      const databaseId = config.d1.PLATFORM_DB;
      const files = migrationFiles(config.migrationsDirs[databaseId]);
      assert.ok(files.length > 0, `no migrations for ${databaseId}`);
      const applied = await platform.d1.all("SELECT name FROM d1_migrations ORDER BY id");
      assert.deepEqual(applied.map((row) => row.name), files);
      assert.deepEqual(await platform.applyMigrations(), { [databaseId]: [] });
      assert.equal((await platform.d1.all("SELECT name FROM d1_migrations")).length, files.length);
    });
  });

  describe("fake APIs", () => {
    beforeEach(() => platform.fakes.reset());
    const call = (url, init) => platform.fetch(FAKE_APIS, url, init);
    const github = (path, { method = "GET", body } = {}) =>
      call(`https://api.github.com${path}`, { method, headers: GITHUB_HEADERS, body: body && JSON.stringify(body) });

    it("refuses GitHub requests without a User-Agent (403) or credentials (401)", async () => {
      // Node's fetch always adds a User-Agent, so an empty one stands in here; wiring.test.mjs sends none from a worker.
      const noAgent = await call("https://api.github.com/user", { headers: { "User-Agent": "", Authorization: "Bearer gh-token" } });
      assert.equal(noAgent.status, 403);
      assert.match(await noAgent.text(), /User-Agent header/);
      const noAuth = await call("https://api.github.com/user", { headers: { "User-Agent": "harness-test" } });
      assert.equal(noAuth.status, 401);
      assert.equal((await noAuth.json()).message, "Requires authentication");
      assert.equal((await (await github("/rate_limit")).json()).resources.core.limit, 5000);
    });

    it("keeps GitHub issues: numbering, comments, labels, close and reopen", async () => {
      const created = await github("/repos/acme/shop/issues", { method: "POST", body: { title: "Boom", body: "trace", labels: ["p1"] } });
      assert.equal(created.status, 201);
      const issue = await created.json();
      assert.equal(issue.number, 1);
      assert.equal(issue.state, "open");
      assert.equal(issue.html_url, "https://github.com/acme/shop/issues/1");
      assert.deepEqual(issue.labels.map((label) => label.name), ["p1"]);
      assert.equal((await (await github("/repos/acme/shop/issues", { method: "POST", body: { title: "Second" } })).json()).number, 2);
      assert.equal((await github("/repos/acme/shop/issues", { method: "POST", body: { body: "no title" } })).status, 422);

      const comment = await github("/repos/acme/shop/issues/1/comments", { method: "POST", body: { body: "again" } });
      assert.equal(comment.status, 201);
      assert.match((await comment.json()).html_url, /^https:\/\/github\.com\/acme\/shop\/issues\/1#issuecomment-\d+$/);
      const labelled = await github("/repos/acme/shop/issues/1/labels", { method: "POST", body: { labels: ["transient"] } });
      assert.deepEqual((await labelled.json()).map((label) => label.name), ["p1", "transient"]);

      const closed = await (await github("/repos/acme/shop/issues/1", { method: "PATCH", body: { state: "closed" } })).json();
      assert.equal(closed.state, "closed");
      assert.ok(closed.closed_at);
      const reopened = await (await github("/repos/acme/shop/issues/1", { method: "PATCH", body: { state: "open" } })).json();
      assert.deepEqual([reopened.state, reopened.state_reason, reopened.closed_at], ["open", "reopened", null]);

      const fetched = await (await github("/repos/acme/shop/issues/1")).json();
      assert.equal(fetched.comments, 1);
      assert.equal((await github("/repos/acme/shop/issues/9")).status, 404);
      assert.deepEqual((await platform.fakes.issues({ owner: "acme", repo: "shop" })).map((i) => [i.number, i.state]), [[1, "open"], [2, "open"]]);
    });

    it("answers Slack webhooks like Slack", async () => {
      const post = (body) => call("https://hooks.slack.com/services/T/B/X", { method: "POST", body });
      assert.deepEqual([(await post('{"text":"hi"}')).status, await (await post('{"text":"hi"}')).text()], [200, "ok"]);
      assert.equal(await (await post("{not json")).text(), "invalid_payload");
      assert.equal(await (await post("{}")).text(), "no_text");
    });

    it("answers Cloudflare GraphQL and REST with programmed results", async () => {
      const graphql = (query) => call("https://api.cloudflare.com/client/v4/graphql", { method: "POST", headers: CLOUDFLARE_HEADERS, body: JSON.stringify({ query }) });
      assert.deepEqual(await (await graphql("{ viewer { accounts { tag } } }")).json(), { data: { viewer: { accounts: [], zones: [] } }, errors: null });

      await platform.fakes.setCloudflareResponse({ match: "workersInvocationsAdaptive", data: { viewer: { accounts: [{ requests: 42 }] } } });
      assert.deepEqual(await (await graphql("{ viewer { accounts { workersInvocationsAdaptive { sum } } } }")).json(), {
        data: { viewer: { accounts: [{ requests: 42 }] } },
        errors: null,
      });

      await platform.fakes.setCloudflareResponse({ match: "GET /client/v4/accounts/abc/workers/scripts", result: [{ id: "w" }] });
      const rest = await call("https://api.cloudflare.com/client/v4/accounts/abc/workers/scripts", { headers: CLOUDFLARE_HEADERS });
      assert.deepEqual(await rest.json(), { success: true, errors: [], messages: [], result: [{ id: "w" }] });
      const unknown = await call("https://api.cloudflare.com/client/v4/nowhere", { headers: CLOUDFLARE_HEADERS });
      assert.equal(unknown.status, 404);
      assert.equal((await unknown.json()).success, false);
      assert.equal((await call("https://api.cloudflare.com/client/v4/graphql", { method: "POST", body: "{}" })).status, 400);
    });

    it("records every request and replays scripted failures before answering normally", async () => {
      await platform.fakes.failNext("slack", 500, { count: 2, body: "slack down", headers: { "retry-after": "7" } });
      const first = await call("https://hooks.slack.com/services/T/B/X", { method: "POST", body: '{"text":"1"}' });
      assert.deepEqual([first.status, await first.text(), first.headers.get("retry-after")], [500, "slack down", "7"]);
      assert.equal((await call("https://hooks.slack.com/services/T/B/X", { method: "POST", body: '{"text":"2"}' })).status, 500);
      assert.equal((await call("https://hooks.slack.com/services/T/B/X", { method: "POST", body: '{"text":"3"}' })).status, 200);
      assert.equal((await call("https://example.com/elsewhere")).status, 502);

      const slack = await platform.fakes.requests({ service: "slack" });
      assert.deepEqual(slack.map((request) => JSON.parse(request.body).text), ["1", "2", "3"]);
      assert.ok(slack.every((request) => request.method === "POST" && request.url === "https://hooks.slack.com/services/T/B/X"));
      assert.deepEqual((await platform.fakes.requests()).map((request) => request.service), ["slack", "slack", "slack", "example.com"]);

      await platform.fakes.reset();
      assert.deepEqual(await platform.fakes.requests(), []);
    });
  });

  describe("cron helper", () => {
    it("runs every cron the platform's configs declare to a successful outcome", async () => {
      const schedules = platform.workers.flatMap((config) => config.crons.map((cron) => [config.name, cron]));
      assert.ok(schedules.length > 0);
      for (const [worker, cron] of schedules) {
        assert.deepEqual(await platform.cron(worker, cron, Date.UTC(2026, 0, 1)), { outcome: "ok", noRetry: false }, `${worker} ${cron}`);
      }
    });
  });
});
