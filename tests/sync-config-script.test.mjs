// scripts/sync-config against a running sync-config: the plan as a readable diff, the apply, the
// problems with a non-zero exit, and the `wrangler kv bulk put` file.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { REPO_ROOT } from "./harness/config.mjs";
import { startPlatform } from "./harness/platform.mjs";

const SCRIPT = join(REPO_ROOT, "scripts/sync-config");

describe("scripts/sync-config", () => {
  let platform;
  let url;
  const dir = mkdtempSync(join(tmpdir(), "sync-config-"));

  before(async () => {
    platform = await startPlatform({ workers: ["sync-config"], listen: { port: 0 } });
    url = platform.urls[platform.workers[0].name];
  });
  after(async () => {
    await platform?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  const run = async (args, { config = join(REPO_ROOT, "config"), env = {} } = {}) => {
    try {
      const { stdout, stderr } = await promisify(execFile)(SCRIPT, ["--url", url, "--config", config, ...args], {
        env: { ...process.env, ADMIN_TOKEN: platform.adminToken, ...env },
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      return { code: error.code, stdout: error.stdout, stderr: error.stderr };
    }
  };

  it("prints the plan of a dry run and writes nothing", async () => {
    const { code, stdout } = await run(["--dry-run"]);
    assert.equal(code, 0, stdout);
    assert.match(stdout, /^config [0-9a-f]{16} \(current: nothing applied yet\), dry run$/m);
    assert.match(stdout, /^KV: 11 to add, 0 to change, 0 to remove, 0 unchanged$/m);
    assert.match(stdout, /^ {2}\+ CONFIG:FEATURE:my-app:scanner:ocr:BUDGET {2}\{"d1_writes":200000,/m);
    assert.match(stdout, /^ {2}\+ SCRIPT_MAP:my-blog {2}\{"project":"my-blog"/m);
    assert.match(stdout, /^ {4}~ budget_warning_thresholds = 70,90$/m);
    assert.deepEqual(await platform.kv.list("SCRIPT_MAP:"), []);
  });

  it("applies, then finds nothing to do", async () => {
    const applied = await run([]);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /^applied [0-9a-f]{16}: 11 key\(s\) written, 0 removed, 10 row\(s\) changed$/m);
    assert.equal((await platform.kv.list("SCRIPT_MAP:")).length, 3);
    const again = await run([]);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /^KV: 0 to add, 0 to change, 0 to remove, 11 unchanged$/m);
    assert.match(again.stdout, /^nothing to do: [0-9a-f]{16} is applied$/m);
  });

  it("exits 1 and prints each problem with its file and path", async () => {
    const bad = join(dir, "bad");
    mkdirSync(bad, { recursive: true });
    writeFileSync(join(bad, "services.yaml"), "projects:\n  app:\n    repository: nope\n");
    writeFileSync(join(bad, "budgets.yaml"), "defaults:\n  daily: {d1_writes: -1}\n");
    const { code, stderr } = await run([], { config: bad });
    assert.equal(code, 1);
    assert.match(stderr, /2 problems; nothing was written/);
    assert.match(stderr, /^ {2}services\.yaml: projects\.app\.repository: "nope" is not owner\/repo$/m);
    assert.match(stderr, /^ {2}budgets\.yaml: defaults\.daily\.d1_writes: -1 is negative/m);
  });

  it("reads the YAML itself: a file that is not YAML exits 1 with its line, and nothing is sent", async () => {
    const broken = join(dir, "broken");
    mkdirSync(broken, { recursive: true });
    writeFileSync(join(broken, "services.yaml"), "projects:\n  app: [unclosed\n");
    writeFileSync(join(broken, "budgets.yaml"), readFileSync(join(REPO_ROOT, "config/budgets.yaml"), "utf8"));
    // No worker is asked: this URL answers nothing, which would exit 2.
    const { code, stderr } = await run(["--url", "http://127.0.0.1:9"], { config: broken });
    assert.equal(code, 1, stderr);
    assert.match(stderr, /1 file is not valid YAML; nothing was sent/);
    assert.match(stderr, /^ {2}services\.yaml: not valid YAML: .* at line \d+, column \d+$/m);
  });

  it("writes the KV part of the plan as a wrangler bulk file", async () => {
    const changed = join(dir, "changed");
    mkdirSync(changed, { recursive: true });
    const services = readFileSync(join(REPO_ROOT, "config/services.yaml"), "utf8").replace("- my-app-cron", "- my-app-jobs");
    writeFileSync(join(changed, "services.yaml"), services);
    writeFileSync(join(changed, "budgets.yaml"), readFileSync(join(REPO_ROOT, "config/budgets.yaml"), "utf8"));
    const file = join(dir, "bulk.json");
    const { code, stdout } = await run(["--emit-bulk", file], { config: changed });
    assert.equal(code, 0, stdout);
    assert.match(stdout, /^ {2}- SCRIPT_MAP:my-app-cron$/m);
    const puts = JSON.parse(readFileSync(file, "utf8"));
    assert.deepEqual(puts.map((entry) => entry.key), ["SCRIPT_MAP:my-app-jobs"]);
    for (const entry of puts) {
      assert.equal(typeof entry.value, "string");
      assert.equal(entry.metadata.writer, "platform-sync-config");
      assert.match(entry.metadata.digest, /^[0-9a-f]{16}$/);
    }
    assert.deepEqual(JSON.parse(readFileSync(`${file}.delete.json`, "utf8")), ["SCRIPT_MAP:my-app-cron"]);
    assert.equal((await platform.kv.list("SCRIPT_MAP:")).length, 3, "nothing applied");
  });

  it("needs a URL and a token", async () => {
    const { code, stderr } = await run(["--env", "staging", "--dry-run"], { env: { ADMIN_TOKEN_STAGING: "" } });
    assert.equal(code, 2);
    assert.match(stderr, /no admin token: set ADMIN_TOKEN_STAGING/);
  });
});
