// The operator's command line (crates/platform-cli) against the local platform: every worker served
// on its own port by Miniflare, the CLI run as a process with its endpoints and token from a config
// file, as an operator runs it. Offline commands are checked against what the workers do.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { REPO_ROOT } from "./harness/config.mjs";
import { featureStatusKey } from "./consumer/keys.mjs";
import { startPlatform } from "./harness/platform.mjs";

const run = promisify(execFile);
const BINARY = join(REPO_ROOT, "target", "debug", "platform");
const FIXTURES = join(REPO_ROOT, "tests", "fixtures", "cli");
const CONFIG = join(FIXTURES, "config");
// The fake Cloudflare API on a port of its own, for the CLI process: requests are handed to the
// fakes worker as requests to api.cloudflare.com, where they are recorded and answered.
const CLOUDFLARE_API_PORT = {
  name: "cloudflare-api-port",
  modules: true,
  script: `export default {
    fetch(request, env) {
      const url = new URL(request.url);
      url.protocol = "https:";
      url.host = "api.cloudflare.com";
      url.port = "";
      return env.FAKES.fetch(new Request(url, request));
    },
  };`,
  compatibilityDate: "2026-04-01",
  serviceBindings: { FAKES: "fake-apis" },
  unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
};
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe("platform CLI", () => {
  let platform;
  let home;
  let configFile;

  before(async () => {
    // Up to date after `cargo test --workspace`; built here when this file runs alone.
    await run("cargo", ["build", "--quiet", "--locked", "-p", "platform-cli"], { cwd: REPO_ROOT, maxBuffer: 1 << 24 });
    platform = await startPlatform({
      listen: { port: 0 },
      queueBatchTimeout: 0,
      adminToken: "cli-test-token",
      extraWorkers: [CLOUDFLARE_API_PORT],
    });
    home = mkdtempSync(join(tmpdir(), "platform-cli-"));
    configFile = join(home, "config.toml");
    const urls = Object.entries(platform.urls).filter(([name]) => name !== CLOUDFLARE_API_PORT.name).map(([name, url]) => `${name} = "${url.replace(/\/$/, "")}"`);
    writeFileSync(configFile, `[default]\nadmin_token = "cli-test-token"\n\n[default.urls]\n${urls.join("\n")}\n`, { mode: 0o600 });
  });
  after(async () => {
    await platform?.dispose();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  /** Runs the CLI; resolves with its exit status and output, whatever the status. */
  async function cli(args, { env = {} } = {}) {
    const childEnv = { PATH: process.env.PATH, HOME: home, PLATFORM_CONFIG: configFile, NO_COLOR: "1", TZ: "Europe/Paris", ...env };
    try {
      const { stdout, stderr } = await run(BINARY, args, { cwd: REPO_ROOT, env: childEnv, maxBuffer: 1 << 24 });
      return { status: 0, stdout, stderr };
    } catch (error) {
      if (typeof error.code !== "number") throw error;
      return { status: error.code, stdout: error.stdout, stderr: error.stderr };
    }
  }
  const json = async (args) => {
    const result = await cli(["--json", ...args]);
    assert.equal(result.status, 0, `${args.join(" ")}: ${result.stderr}`);
    return JSON.parse(result.stdout);
  };

  describe("config", () => {
    it("writes offline, with emit-bulk, exactly the keys and values the sync-config worker writes", async () => {
      const file = join(home, "bulk.json");
      const emitted = await cli(["config", "emit-bulk", file, "--config", CONFIG]);
      assert.equal(emitted.status, 0, emitted.stderr);
      const entries = JSON.parse(readFileSync(file, "utf8"));
      assert.ok(entries.length >= 5, JSON.stringify(entries));

      const applied = await cli(["config", "apply", "--config", CONFIG]);
      assert.equal(applied.status, 0, applied.stderr);
      assert.match(applied.stdout, /applied [0-9a-f]{16}: \d+ key\(s\) written/);
      for (const entry of entries) {
        const stored = await platform.kv.getWithMetadata(entry.key);
        assert.equal(stored.value, entry.value, entry.key);
        assert.equal(stored.metadata.digest, entry.metadata.digest, entry.key);
        assert.equal(stored.metadata.writer, entry.metadata.writer, entry.key);
      }
      const written = await platform.d1.all("SELECT key FROM synced_kv_keys ORDER BY key");
      assert.deepEqual(written.map((row) => row.key), entries.map((entry) => entry.key).sort());

      const again = await cli(["config", "apply", "--config", CONFIG]);
      assert.equal(again.status, 0, again.stderr);
      assert.match(again.stdout, /nothing to do: [0-9a-f]{16} is applied/);
    });

    it("plans offline what the worker plans on a fresh platform, and validates with the worker's words", async () => {
      const offline = await json(["config", "plan", "--config", CONFIG]);
      const validated = await json(["config", "validate", "--config", CONFIG]);
      assert.equal(validated.version, offline.version);
      const applied = await (await platform.adminFetch("platform-sync-config", "/config")).json();
      assert.equal(applied.version, offline.version, "the version the worker recorded");
      assert.equal(offline.plan.kv.put.length, offline.summary.kv_keys);

      const bad = join(home, "bad");
      await run("mkdir", ["-p", bad]);
      writeFileSync(join(bad, "services.yaml"), "projects:\n  shop:\n    tier: 7\n");
      writeFileSync(join(bad, "budgets.yaml"), "defaults:\n  daily: { kv_writez: 1 }\n");
      const refused = await cli(["config", "validate", "--config", bad]);
      assert.equal(refused.status, 1);
      assert.match(refused.stderr, /services\.yaml: projects\.shop\.repository: missing/);
      assert.match(refused.stderr, /services\.yaml: projects\.shop\.tier: 7 is out of range/);
      assert.match(refused.stderr, /budgets\.yaml: defaults\.daily\.kv_writez: unknown metric/);
      const posted = await cli(["config", "apply", "--config", bad]);
      assert.equal(posted.status, 1, "refused before anything is sent");
    });
  });

  describe("breakers", () => {
    it("disables and enables a declared feature, and refuses an unknown one with exit 3", async () => {
      const disabled = await cli(["features", "disable", "shop:api:search", "--reason", "maintenance"]);
      assert.equal(disabled.status, 0, disabled.stderr);
      assert.equal(await platform.kv.get(featureStatusKey("shop:api:search")), "STOP");
      const status = await cli(["status"]);
      assert.match(status.stdout, /open breakers:\n.*FEATURE\s+SINCE\s+RESETS\s+REASON/);
      assert.match(status.stdout, /shop:api:search\s+\d{4}-\d\d-\d\d \d\d:\d\dZ \(\d\d:\d\d local, now\)\s+when enabled by hand\s+maintenance/);
      const body = await json(["status"]);
      assert.match(body.features.find((f) => f.feature === "shop:api:search").since, ISO);
      assert.equal((await cli(["features", "enable", "shop:api:search"])).status, 0);
      assert.equal(await platform.kv.get(featureStatusKey("shop:api:search")), null);

      const unknown = await cli(["features", "disable", "nope:x:y"]);
      assert.equal(unknown.status, 3);
      assert.match(unknown.stderr, /404: unknown feature nope:x:y/);
      const malformed = await cli(["features", "disable", "nope:x"]);
      assert.equal(malformed.status, 2);
      assert.match(malformed.stderr, /project:category:feature/);
    });

    it("pauses and resumes a project, stops and releases the account", async () => {
      assert.equal((await cli(["projects", "pause", "shop", "--reason", "incident 7"])).status, 0);
      assert.match((await cli(["status"])).stdout, /shop\s+paused \(by hand\).*incident 7/);
      assert.match((await cli(["projects", "resume", "shop"])).stdout, /shop: resumed/);
      assert.equal((await cli(["projects", "pause", "nobody"])).status, 3);

      const stopped = await cli(["stop", "--reason", "bill spike"]);
      assert.equal(stopped.status, 0, stopped.stderr);
      assert.match((await cli(["status"])).stdout, /^GLOBAL STOP since .*: bill spike/);
      assert.equal(await platform.kv.get("GLOBAL_STOP_ALL"), "true");
      assert.equal((await cli(["resume"])).status, 0);
      assert.match((await cli(["status"])).stdout, /^global: running/);

      const events = (await json(["events", "--limit", "10"])).events;
      assert.ok(events.length >= 6, JSON.stringify(events));
      for (const event of events) {
        assert.ok(Number.isInteger(event.id), JSON.stringify(event));
        assert.match(event.at, ISO);
      }
      assert.match((await cli(["events"])).stdout, /^ID\s+AT\s+SCOPE\s+SUBJECT\s+EVENT\s+REASON\n/);
    });

    it("shows a feature's usage per UTC day against its budget", async () => {
      const message = { feature_key: "shop:api:checkout", project: "shop", category: "api", feature: "checkout", metrics: { kvWrites: 50 }, timestamp: Date.now() };
      await platform.queue("platform-usage", "platform-telemetry", [{ id: "cli-usage-1", body: message }]);
      const usage = await cli(["usage", "shop:api:checkout", "--days", "2"]);
      assert.equal(usage.status, 0, usage.stderr);
      assert.match(usage.stdout, /\d{4}-\d\d-\d\d \(UTC day\)\nMETRIC\s+USED\s+BUDGET\s*\nkv_writes\s+50/);
    });
  });

  describe("the other workers' admin routes", () => {
    it("lists errors, patterns, gaps, rejected telemetry and people, and explains a missing record", async () => {
      assert.match((await cli(["errors", "list"])).stdout, /no errors recorded/);
      const missing = await cli(["errors", "show", "0123456789abcdef0123456789abcdef"]);
      assert.equal(missing.status, 3);
      assert.match(missing.stderr, /404: no error with fingerprint/);
      assert.equal((await cli(["errors", "show", "../status"])).status, 2);
      assert.match((await cli(["patterns", "list"])).stdout, /no patterns proposed yet/);
      assert.equal((await cli(["patterns", "approve", "pat-0123456789abcdef"])).status, 3);
      assert.equal((await cli(["gaps"])).status, 0);
      assert.match((await cli(["dlq", "list"])).stdout, /no rejected telemetry pending/);
      assert.ok(Array.isArray((await json(["notifications", "users"])).users ?? (await json(["notifications", "users"])).people));
    });

    it("drives the routes of settings, silences, anomalies, account usage, config history, discovery and people", async () => {
      const settings = await json(["settings", "show"]);
      assert.ok(settings.settings && typeof settings.settings === "object", JSON.stringify(settings));
      const [key, value] = Object.entries(settings.settings).find(([, v]) => typeof v === "number");
      assert.equal((await cli(["settings", "set", `${key}=${value}`])).status, 0);
      const refused = await cli(["settings", "set", "no_such_setting=1"]);
      assert.equal(refused.status, 3, refused.stderr);
      assert.equal((await cli(["settings", "set", "=1"])).status, 2);

      const added = await json(["silences", "add", "--project", "shop", "--hours", "2", "--reason", "migration"]);
      const silence = added.silence ?? added;
      assert.match(silence.expires_at, ISO);
      assert.match((await cli(["silences", "list"])).stdout, new RegExp(`^${silence.id}\\s+shop\\s.*migration`, "m"));
      assert.equal((await cli(["silences", "end", String(silence.id)])).status, 0);
      assert.match((await cli(["silences", "list"])).stdout, /no silences in force/);
      assert.equal((await cli(["silences", "add", "--hours", "1"])).status, 2, "a matcher is needed");

      assert.equal((await json(["anomalies", "--limit", "5"])).open, 0);
      assert.ok(Array.isArray((await json(["account", "usage", "--by", "project"])).rows ?? []));
      const history = await json(["config", "history"]);
      assert.ok(Array.isArray(history.history), JSON.stringify(history));
      assert.match((await json(["config", "show"])).version, /^[0-9a-f]{16}$/);
      assert.equal(typeof (await json(["patterns", "refresh-cache"])).approved, "number");
      assert.equal(typeof (await json(["patterns", "discover"])).errors_read, "number");
      const filed = await cli(["gaps", "file", "nobody"]);
      assert.notEqual(filed.status, 0, "an unknown project is not filed");

      assert.equal((await cli(["notifications", "add", "ops-cli", "--role", "admin", "--name", "Ops"])).status, 0);
      const issued = await cli(["notifications", "issue-token", "ops-cli", "--label", "laptop"]);
      assert.equal(issued.status, 0, issued.stderr);
      const token = issued.stdout.trim();
      const me = await fetch(new URL("/me", platform.urls["platform-notifications"]), { headers: { Authorization: `Bearer ${token}` } });
      assert.equal(me.status, 200, "the issued token signs in");
      const tokens = (await json(["notifications", "tokens", "ops-cli"])).tokens;
      assert.equal(tokens.length, 1);
      assert.equal((await cli(["notifications", "revoke-token", "ops-cli", tokens[0].id])).status, 0);
      assert.ok([401, 403].includes((await fetch(new URL("/me", platform.urls["platform-notifications"]), { headers: { Authorization: `Bearer ${token}` } })).status), "the revoked token is refused");
      assert.equal((await cli(["notifications", "remove", "ops-cli"])).status, 0);
      assert.equal((await cli(["notifications", "remove", "ops-cli"])).status, 3);
    });

    it("checks every worker's /health", async () => {
      const health = await cli(["health"]);
      assert.ok([0, 1].includes(health.status), health.stderr);
      const workers = Object.keys(platform.urls).filter((name) => name !== CLOUDFLARE_API_PORT.name);
      for (const name of workers) assert.match(health.stdout, new RegExp(`^${name}\\s`, "m"));
      const body = await json(["health"]).catch(() => null);
      if (body) assert.deepEqual(Object.keys(body).sort(), workers.sort());
    });
  });

  describe("wire", () => {
    for (const file of ["wrangler.toml", "wrangler.jsonc"]) {
      it(`wires ${file} keeping its comments, changes nothing the second time, and --check says so`, async () => {
        const dir = mkdtempSync(join(home, "app-"));
        cpSync(join(FIXTURES, "app"), dir, { recursive: true });
        const path = join(dir, file);
        const before = readFileSync(path, "utf8");
        const check = await cli(["wire", path, "--check", "--kv-id", "0123456789abcdef0123456789abcdef"]);
        assert.equal(check.status, 1);
        assert.match(check.stdout, /\+ kv_namespaces: \{ binding = "PLATFORM_CACHE"/);
        assert.equal(readFileSync(path, "utf8"), before, "--check writes nothing");

        const wired = await cli(["wire", path, "--kv-id", "0123456789abcdef0123456789abcdef"]);
        assert.equal(wired.status, 0, wired.stderr);
        assert.match(wired.stdout, /@littlebearapps\/platform-consumer-sdk/);
        assert.match(wired.stdout, /withFeatureBudget\(env, "my-app:api:render", \{ ctx \}\)/);
        const after = readFileSync(path, "utf8");
        for (const comment of before.match(/(#|\/\/|\/\*).*$/gm)) assert.ok(after.includes(comment), `kept: ${comment}`);

        const again = await cli(["wire", path, "--kv-id", "0123456789abcdef0123456789abcdef"]);
        assert.equal(again.status, 0);
        assert.match(again.stdout, /wired already/);
        assert.equal(readFileSync(path, "utf8"), after);
        assert.equal((await cli(["wire", path, "--check", "--kv-id", "0123456789abcdef0123456789abcdef"])).status, 0);

        // wrangler reads the result: the three bindings are in the bundle's metadata.
        const out = join(dir, "dry-run");
        const { stdout } = await run(join(REPO_ROOT, "node_modules", ".bin", "wrangler"), ["deploy", "--dry-run", "-c", path, "--outdir", out], {
          cwd: dir,
          env: { ...process.env, WRANGLER_SEND_METRICS: "false", HOME: home },
        });
        assert.match(stdout, /PLATFORM_CACHE/);
        assert.match(stdout, /PLATFORM_TELEMETRY/);
      });
    }

    it("reads the namespace id, queue and collector of the platform's environment from its wrangler configs", async () => {
      const dir = mkdtempSync(join(home, "app-"));
      cpSync(join(FIXTURES, "app"), dir, { recursive: true });
      const staging = await cli(["--env", "staging", "wire", join(dir, "wrangler.toml"), "--app-env", "staging"]);
      assert.equal(staging.status, 0, staging.stderr);
      const text = readFileSync(join(dir, "wrangler.toml"), "utf8");
      assert.match(text, /\[\[env\.staging\.queues\.producers\]\]\nbinding = "PLATFORM_TELEMETRY"\nqueue = "platform-telemetry-staging"/);
      assert.match(text, /service = "platform-error-collector-staging"/);
      assert.match(text, /id = "platform-cache-staging"/);
      const elsewhere = await cli(["wire", join(dir, "wrangler.toml"), "--platform-dir", dir]);
      assert.equal(elsewhere.status, 2);
      assert.match(elsewhere.stderr, /KV namespace id is not known\n  hint: pass --kv-id/);
    });
  });

  describe("init, deploy and doctor", () => {
    const ACCOUNT = "0123456789abcdef0123456789abcdef";
    const initEnv = (extra = {}) => ({
      PLATFORM_CONFIG: join(home, "init.toml"),
      CLOUDFLARE_API_BASE_URL: `${platform.urls["cloudflare-api-port"].replace(/\/$/, "")}/client/v4`,
      CLOUDFLARE_API_TOKEN: "a-valid-token",
      CLOUDFLARE_ACCOUNT_ID: ACCOUNT,
      ...extra,
    });
    const creates = async () =>
      (await platform.fakes.requests({ service: "cloudflare" })).filter((r) => r.method === "POST").map((r) => JSON.parse(r.body));

    it("creates the namespace, the database and every queue once, writes their ids, and finds them on a second run", async () => {
      const dir = mkdtempSync(join(home, "platform-"));
      cpSync(join(REPO_ROOT, "wrangler"), join(dir, "wrangler"), { recursive: true });
      const wrangler = join(dir, "wrangler");
      const first = await cli(["init", "--wrangler-dir", wrangler], { env: initEnv() });
      assert.equal(first.status, 0, first.stderr);
      assert.match(first.stdout, /account 0123456789abcdef0123456789abcdef \(Free plan\), environment default/);
      for (const name of ["platform-cache", "platform", "platform-telemetry", "platform-telemetry-dlq", "platform-sync", "platform-error-events"]) {
        assert.match(first.stdout, new RegExp(`\\s${name}\\s+[0-9a-f]{32}\\s+created`), name);
      }
      assert.deepEqual((await creates()).map((b) => b.title ?? b.name ?? b.queue_name).sort(),
        ["platform", "platform-cache", "platform-error-events", "platform-sync", "platform-telemetry", "platform-telemetry-dlq"]);
      const [, kvId] = /platform-cache\s+([0-9a-f]{32})/.exec(first.stdout);
      const usage = readFileSync(join(wrangler, "platform-usage.toml"), "utf8");
      assert.match(usage, new RegExp(`binding = "PLATFORM_CACHE"\\nid = "${kvId}"`));
      assert.match(usage, /# The shared namespace and database/, "comments kept");
      assert.match(usage, /\[\[env\.staging\.kv_namespaces\]\]\nbinding = "PLATFORM_CACHE"\nid = "platform-cache-staging"/, "other environments untouched");
      for (const file of ["error-collector.toml", "sentinel.toml", "notifications.toml", "sync-config.toml", "pattern-discovery.toml"]) {
        assert.match(readFileSync(join(wrangler, file), "utf8"), new RegExp(`id = "${kvId}"`), file);
      }
      const saved = readFileSync(join(home, "init.toml"), "utf8");
      assert.match(saved, /\[default\]\naccount_id = "0123456789abcdef0123456789abcdef"\nworkers_subdomain = "01234567-fake"\nadmin_token = "[0-9a-f]{64}"/);

      const second = await cli(["init", "--wrangler-dir", wrangler], { env: initEnv() });
      assert.equal(second.status, 0, second.stderr);
      assert.doesNotMatch(second.stdout, /created/);
      assert.match(second.stdout, /the wrangler configs already hold these ids/);
      assert.equal((await creates()).length, 6, "nothing created twice");
      assert.equal(readFileSync(join(home, "init.toml"), "utf8"), saved, "the admin token is kept");

      const staging = await cli(["--env", "staging", "init", "--wrangler-dir", wrangler], { env: initEnv() });
      assert.equal(staging.status, 0, staging.stderr);
      assert.match(staging.stdout, /platform-telemetry-staging\s+[0-9a-f]{32}\s+created/);
      assert.doesNotMatch(readFileSync(join(wrangler, "platform-usage.toml"), "utf8"), /id = "platform-cache-staging"/);
    });

    it("detects the Workers Paid plan, and explains a refused token", async () => {
      const paid = "feedfacefeedfacefeedfacefeedface";
      await platform.fakes.setCloudflareResponse({ match: `GET /client/v4/accounts/${paid}/subscriptions`, result: [{ rate_plan: { id: "workers_paid" } }] });
      const dir = mkdtempSync(join(home, "platform-"));
      cpSync(join(REPO_ROOT, "wrangler"), join(dir, "wrangler"), { recursive: true });
      const wrangler = join(dir, "wrangler");
      const init = await cli(["init", "--wrangler-dir", wrangler], { env: initEnv({ CLOUDFLARE_ACCOUNT_ID: paid }) });
      assert.equal(init.status, 0, init.stderr);
      assert.match(init.stdout, /\(Workers Paid plan\)/);

      const invalid = await cli(["init", "--wrangler-dir", wrangler], { env: initEnv({ CLOUDFLARE_API_TOKEN: "invalid-token" }) });
      assert.equal(invalid.status, 3);
      assert.match(invalid.stderr, /checking the API token: Cloudflare answered 401: Invalid API Token \(code 1000\)/);
      assert.match(invalid.stderr, /hint: the token in CLOUDFLARE_API_TOKEN was refused; it must be valid and have Account: Workers Scripts Edit, Workers KV Storage Edit, D1 Edit/);
      const readonly = await cli(["init", "--wrangler-dir", wrangler], { env: initEnv({ CLOUDFLARE_API_TOKEN: "readonly-token", CLOUDFLARE_ACCOUNT_ID: "abcdefabcdefabcdefabcdefabcdefab" }) });
      assert.equal(readonly.status, 3);
      assert.match(readonly.stderr, /creating the KV namespace platform-cache: Cloudflare answered 403: Authentication error/);
      assert.match(readonly.stderr, /hint: the token may not do this/);
      const none = await cli(["init", "--wrangler-dir", wrangler], { env: initEnv({ CLOUDFLARE_API_TOKEN: "" }) });
      assert.equal(none.status, 2);
      assert.match(none.stderr, /no Cloudflare API token\n  hint: set CLOUDFLARE_API_TOKEN/);
    });

    it("deploys in dependency order: a dry run checks every worker with wrangler and lists the other steps", async () => {
      const deploy = await cli(["deploy", "--dry-run"], {
        // wrangler runs each config's build command (scripts/build, cargo): the operator's own home.
        env: { WRANGLER: join(REPO_ROOT, "node_modules", ".bin", "wrangler"), HOME: homedir(), PLATFORM_WORKERS_SUBDOMAIN: "acme" },
      });
      assert.equal(deploy.status, 0, deploy.stderr);
      for (const name of ["platform-usage", "platform-error-collector", "platform-sentinel", "platform-notifications", "platform-sync-config", "platform-pattern-discovery"]) {
        assert.match(deploy.stdout, new RegExp(`^  ${name} will answer on https://${name}\\.acme\\.workers\\.dev$`, "m"), name);
      }
      const lines = deploy.stdout.split("\n").filter((line) => !line.startsWith("  "));
      const at = (text) => lines.findIndex((line) => line.includes(text));
      assert.match(lines[0], /^· apply the D1 migrations to platform: .*wrangler d1 migrations apply platform --remote -c wrangler\/.*\.toml$/);
      assert.ok(at("→ deploy platform-notifications") < at("→ deploy platform-usage"), deploy.stdout);
      assert.ok(at("→ deploy platform-usage") < at("→ deploy platform-sentinel"), deploy.stdout);
      assert.match(deploy.stdout, /· set ADMIN_TOKEN on platform-usage: .*secret put ADMIN_TOKEN -c wrangler\/platform-usage\.toml < \(the value\)/);
      assert.doesNotMatch(deploy.stdout, /cli-test-token/, "secrets never shown");
      for (const crate of ["platform-usage", "error-collector", "sentinel", "notifications", "sync-config", "pattern-discovery"]) {
        const outdir = join(REPO_ROOT, "target", "dry-run", crate);
        assert.ok(deploy.stdout.includes(`deploy -c wrangler/${crate}.toml --dry-run --outdir ${outdir}`), crate);
        assert.ok(readdirSync(outdir).some((file) => file.endsWith(".js")), `${crate}: the bundle wrangler made`);
      }
    });

    it("deploys with the recorded commands, saves a routed worker's URL and refuses a worker without one", async () => {
      const dir = mkdtempSync(join(home, "deploy-"));
      cpSync(join(REPO_ROOT, "wrangler"), join(dir, "wrangler"), { recursive: true });
      const wrangler = join(dir, "wrangler");
      const sentinelToml = join(wrangler, "sentinel.toml");
      // The sentinel on a domain of the account: .invalid never resolves, so its health is "unreachable".
      writeFileSync(sentinelToml, readFileSync(sentinelToml, "utf8").replace("workers_dev = true", 'workers_dev = false\nroutes = [{ pattern = "sentinel.invalid", custom_domain = true }]'));
      // A wrangler that records each command and what it was given on standard input.
      const log = join(dir, "wrangler.log");
      const fake = join(dir, "wrangler.sh");
      writeFileSync(fake, `#!/bin/sh\nprintf '%s|%s\\n' "$*" "$(cat)" >> ${log}\n`, { mode: 0o755 });
      const settings = join(dir, "settings.toml");
      const locals = Object.entries(platform.urls)
        .filter(([name]) => name !== CLOUDFLARE_API_PORT.name && name !== "platform-sentinel")
        .map(([name, url]) => `${name} = "${url.replace(/\/$/, "")}"`);
      writeFileSync(settings, `[default]\nadmin_token = "cli-test-token"\nworkers_subdomain = "acme"\n\n[default.urls]\n${locals.join("\n")}\n`, { mode: 0o600 });
      const env = { WRANGLER: fake, PLATFORM_CONFIG: settings, GITHUB_TOKEN: "ghp-recorded" };

      const deploy = await cli(["deploy", "--wrangler-dir", wrangler], { env });
      assert.equal(deploy.status, 1, `only the routed sentinel is unreachable: ${deploy.stdout}${deploy.stderr}`);
      assert.match(deploy.stdout, /^  platform-sentinel will answer on https:\/\/sentinel\.invalid$/m);
      assert.match(deploy.stdout, /^  platform-usage will answer on https:\/\/platform-usage\.acme\.workers\.dev$/m);
      const commands = readFileSync(log, "utf8").trim().split("\n").map((line) => line.split("|"));
      assert.match(commands[0][0], /^d1 migrations apply platform --remote -c /);
      const deployed = commands.filter(([args]) => args.startsWith("deploy -c ")).map(([args]) => /wrangler\/([a-z-]+)\.toml/.exec(args)[1]);
      assert.equal(deployed.length, 6, JSON.stringify(commands));
      assert.ok(deployed.indexOf("platform-usage") < deployed.indexOf("sentinel"), deployed.join(" "));
      const github = commands.find(([args]) => args.startsWith("secret put GITHUB_TOKEN"));
      assert.match(github[0], /-c .*wrangler\/error-collector\.toml$/);
      assert.equal(github[1], "ghp-recorded", "the secret went on standard input");
      assert.ok(commands.every(([args]) => !args.includes("ghp-recorded") && !args.includes("cli-test-token")), "no secret on a command line");
      assert.equal(commands.filter(([args]) => args.startsWith("secret put ADMIN_TOKEN")).length, 6);
      assert.match(readFileSync(settings, "utf8"), /\[default\.urls\][^[]*platform-sentinel = "https:\/\/sentinel\.invalid"/);
      assert.match(deploy.stdout, /^platform-usage\s+http:\/\/127\.0\.0\.1:\d+\s+healthy/m);
      assert.match(deploy.stdout, /^platform-sentinel\s+https:\/\/sentinel\.invalid\s+unreachable/m);
      assert.match(deploy.stderr, /deployed, but not healthy: .*platform-sentinel/);

      // No URL at all: refused before any command runs.
      writeFileSync(sentinelToml, readFileSync(sentinelToml, "utf8").replace(/routes = .*\n/, ""));
      rmSync(log);
      const refused = await cli(["deploy", "--wrangler-dir", wrangler], { env });
      assert.equal(refused.status, 2);
      assert.match(refused.stderr, /a worker would have no URL:\n.*sentinel\.toml: workers_dev = false and no routes/);
      assert.match(refused.stderr, /hint: set workers_dev = true or a host-wide route/);
      assert.ok(!existsSync(log), "nothing ran");
    });

    it("lists each finding of doctor with its fix", async () => {
      const doctor = await cli(["doctor", "--config", CONFIG]);
      assert.equal(doctor.status, 1, doctor.stderr);
      assert.match(doctor.stdout, /^ok config [0-9a-f]{16} valid$/m);
      assert.match(doctor.stdout, /!! wrangler configs hold the account's ids: local placeholder ids in .*platform-usage\.toml.*\n    fix: platform init/);
      assert.match(doctor.stdout, /!! platform-error-collector: GITHUB_TOKEN: not set\n    fix: npx wrangler secret put GITHUB_TOKEN -c wrangler\/error-collector\.toml/);
      assert.match(doctor.stdout, /^ok platform-usage handlers running$/m);
      assert.match(doctor.stdout, /!! tail events from shop-api \(project shop\): no tail event ever reached the error collector\n    fix: name it as the script's tail consumer \(`platform wire PATH`/);
      const report = await cli(["--json", "doctor", "--config", CONFIG]);
      const body = JSON.parse(report.stdout);
      assert.equal(body.findings, body.checks.filter((c) => !c.ok).length);

      // Once the script's tail events arrive, doctor finds them, and `platform scripts` lists them.
      await platform.tail("platform-error-collector", [
        { scriptName: "shop-api", outcome: "ok", eventTimestamp: Date.now(), event: { request: { url: "https://shop.example/", method: "GET" } }, logs: [] },
      ]);
      const again = await cli(["doctor", "--config", CONFIG]);
      assert.match(again.stdout, /^ok every mapped script sends tail events$/m);
      const scripts = JSON.parse((await cli(["--json", "scripts"])).stdout);
      assert.ok(scripts.scripts.some((s) => s.script === "shop-api"));
    });
  });

  describe("setup mistakes", () => {
    it("says where the token and endpoints come from, and which failure it was, by exit status", async () => {
      const noToken = await cli(["status"], { env: { PLATFORM_CONFIG: join(home, "none.toml") } });
      assert.equal(noToken.status, 2);
      assert.match(noToken.stderr, /no admin token for environment "default"\n  hint: set PLATFORM_ADMIN_TOKEN/);
      const wrong = await cli(["status"], { env: { PLATFORM_ADMIN_TOKEN: "not-the-token" } });
      assert.equal(wrong.status, 3);
      assert.match(wrong.stderr, /403.*\n  hint: the admin token of environment "default"/);
      const closed = await cli(["status"], { env: { PLATFORM_USAGE_URL: "http://127.0.0.1:9" } });
      assert.equal(closed.status, 4);
      assert.match(closed.stderr, /http:\/\/127\.0\.0\.1:9\/status could not be reached/);
      const staging = await cli(["--env", "staging", "status"], { env: { PLATFORM_ADMIN_TOKEN: "t" } });
      assert.equal(staging.status, 2);
      assert.match(staging.stderr, /no URL for platform-usage in environment "staging"/);
      const completions = await cli(["completions", "bash"]);
      assert.equal(completions.status, 0);
      assert.match(completions.stdout, /_platform\(\)/);
      assert.doesNotMatch((await cli(["status"])).stdout, /\x1b\[/, "no colour codes with NO_COLOR");
    });
  });
});
