// The harness wires whatever the wrangler configs declare (vars, crons, queues, service bindings,
// migrations, direct sockets). The platform's own configs do not use every feature yet, so this runs two
// small JS fixture workers from tests/fixtures/wrangler.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { REPO_ROOT } from "./harness/config.mjs";
import { startPlatform } from "./harness/platform.mjs";
import { pollUntil } from "./harness/poll.mjs";

const FIXTURE_CONFIGS = join(REPO_ROOT, "tests/fixtures/wrangler");
const FIXTURE_MIGRATIONS = ["0001_jobs.sql", "0002_seed.sql"];

describe("wiring from wrangler configs", () => {
  let platform;
  before(async () => {
    platform = await startPlatform({ wranglerDir: FIXTURE_CONFIGS, adminToken: "fixture-token", listen: { port: 0 } });
  });
  after(() => platform?.dispose());

  it("binds vars, as JSON where the toml has tables, and ADMIN_TOKEN", async () => {
    const response = await platform.fetch("fixture-alpha", "/vars");
    assert.deepEqual(await response.json(), { greeting: "hello from alpha", limits: { daily: 5 }, adminToken: "fixture-token" });
  });

  it("binds services to the workers they name", async () => {
    assert.equal(await (await platform.fetch("fixture-alpha", "/beta")).text(), "beta answered");
  });

  it("routes outbound fetches to the fake APIs, which record them and replay scripted failures", async () => {
    await platform.fakes.reset();
    await platform.fakes.failNext("github", 502, { body: "bad gateway" });
    assert.deepEqual(await (await platform.fetch("fixture-alpha", "/outbound")).json(), { status: 502, body: "bad gateway" });
    const answer = await (await platform.fetch("fixture-alpha", "/outbound")).json();
    assert.equal(answer.status, 200);
    assert.equal(JSON.parse(answer.body).login, "platform-bot");

    const refused = await (await platform.fetch("fixture-alpha", "/outbound?agent=none")).json();
    assert.equal(refused.status, 403);
    assert.match(refused.body, /User-Agent header/);

    const requests = await platform.fakes.requests({ service: "github" });
    assert.equal(requests.length, 3);
    for (const request of requests) {
      assert.equal(request.method, "GET");
      assert.equal(request.url, "https://api.github.com/user");
      assert.equal(request.headers.authorization, "Bearer fixture");
    }
    assert.deepEqual(requests.map((request) => request.headers["user-agent"]), ["fixture-alpha", "fixture-alpha", undefined]);
  });

  it("runs declared crons, whose queue messages reach the consumer the configs name", async () => {
    const scheduledTime = Date.UTC(2026, 0, 2, 3, 0);
    assert.deepEqual(await platform.cron("fixture-alpha", "0 3 * * *", scheduledTime), { outcome: "ok", noRetry: false });
    const body = JSON.stringify({ cron: "0 3 * * *", scheduledTime });
    const job = await pollUntil(async () => (await platform.d1.first("SELECT * FROM jobs WHERE body = ?", body)) ?? undefined, {
      what: "fixture-beta to consume the job",
    });
    assert.equal(job.seen, 1, "the migration's trigger ran");
    await assert.rejects(platform.cron("fixture-alpha", "* * * * *"), /declares no cron "\* \* \* \* \*"/);
  });

  it("delivers a batch straight to a queue handler and reports its settlement", async () => {
    const settlement = await platform.queue("fixture-beta", "fixture-jobs", [
      { id: "direct-1", body: { n: 1 } },
      { id: "direct-2", body: { n: 2 } },
    ]);
    assert.deepEqual(settlement, { outcome: "ok", acked: ["direct-1", "direct-2"], retried: [] });
    assert.equal((await platform.d1.all("SELECT id FROM jobs WHERE id LIKE 'direct-%'")).length, 2);
    // A duplicate id violates the primary key: the handler throws and every message is retried.
    const failed = await platform.queue("fixture-beta", "fixture-jobs", [{ id: "direct-1", body: { n: 1 } }]);
    assert.deepEqual(failed, { outcome: "exception", acked: [], retried: [{ id: "direct-1" }] });
    await assert.rejects(platform.queue("fixture-beta", "other-queue", []), /consumes no queue "other-queue"/);
  });

  it("applies migrations in name order, multi-statement triggers included, and only once", async () => {
    const applied = await platform.d1.all("SELECT name FROM d1_migrations ORDER BY id");
    assert.deepEqual(applied.map((row) => row.name), FIXTURE_MIGRATIONS);
    assert.deepEqual(await platform.d1.first("SELECT * FROM job_log WHERE id = 'seed'"), { id: "seed", note: "inserted; logged" });
    assert.deepEqual(await platform.applyMigrations(), { "fixture-db": [] });
  });

  it("serves each worker on its own port when asked to listen", async () => {
    assert.deepEqual(Object.keys(platform.urls), ["fixture-alpha", "fixture-beta"]);
    const response = await fetch(new URL("/beta", platform.urls["fixture-alpha"]));
    assert.equal(await response.text(), "beta answered");
    assert.equal(await (await fetch(platform.urls["fixture-beta"])).text(), "beta answered");
  });
});

describe("persisted state", () => {
  const persist = mkdtempSync(join(tmpdir(), "platform-harness-"));
  after(() => rmSync(persist, { recursive: true, force: true }));

  it("keeps KV and D1 across restarts and does not re-apply migrations", async () => {
    const first = await startPlatform({ wranglerDir: FIXTURE_CONFIGS, workers: ["beta"], persist });
    try {
      await first.kv.put("persisted", "yes");
      await first.d1.exec("INSERT INTO jobs (id, body) VALUES ('kept', '{}')");
    } finally {
      await first.dispose();
    }
    const second = await startPlatform({ wranglerDir: FIXTURE_CONFIGS, workers: ["beta"], persist });
    try {
      assert.equal(await second.kv.get("persisted"), "yes");
      assert.equal((await second.d1.all("SELECT id FROM jobs WHERE id IN ('seed', 'kept')")).length, 2);
      assert.deepEqual(await second.applyMigrations(), { "fixture-db": [] });
      assert.equal((await second.d1.first("SELECT COUNT(*) AS n FROM job_log WHERE id = 'seed'")).n, 1);
    } finally {
      await second.dispose();
    }
  });
});
