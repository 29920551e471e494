// Runs the whole platform locally with the test harness: state persisted under .platform-dev/, each
// worker on its own localhost port, outbound calls answered by the fake APIs. Started by scripts/dev.

import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Log, LogLevel } from "miniflare";
import { REPO_ROOT } from "./config.mjs";
import { startPlatform } from "./platform.mjs";

const DEV_DIR = join(REPO_ROOT, ".platform-dev");
const TOKEN_FILE = join(DEV_DIR, "admin-token");

const { values } = parseArgs({
  options: { port: { type: "string", default: "8787" }, host: { type: "string", default: "127.0.0.1" } },
});

mkdirSync(DEV_DIR, { recursive: true });
const platform = await startPlatform({
  persist: join(DEV_DIR, "state"),
  adminToken: adminToken(),
  listen: { host: values.host, port: Number(values.port) },
  log: new Log(LogLevel.INFO),
});

console.log("\nPlatform running (state in .platform-dev/, outbound calls go to the fake APIs):");
for (const [name, url] of Object.entries(platform.urls)) console.log(`  ${name.padEnd(28)} ${url}`);
console.log(`\nADMIN_TOKEN ${platform.adminToken}  (from .platform-dev/admin-token)`);
console.log("Press Ctrl-C to stop.");

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, async () => {
    await platform.dispose();
    process.exit(0);
  });
}

// Generated once, then reused so scripts and shells keep working across restarts.
function adminToken() {
  if (!existsSync(TOKEN_FILE)) writeFileSync(TOKEN_FILE, `${randomBytes(24).toString("hex")}\n`, { mode: 0o600 });
  return readFileSync(TOKEN_FILE, "utf8").trim();
}
