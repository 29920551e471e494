// The demo (scripts/dev --demo): the whole platform in memory, an application sending realistic
// telemetry and errors through the real queue and tail, and a control page that runs any worker's
// cron and shows what the fake Slack and GitHub received. Within a minute the checkout's budget
// fills, its breaker trips and its errors become a GitHub issue, all visible on the dashboard.

import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { syncBody } from "../../scripts/lib/config-files.mjs";
import { REPO_ROOT } from "./config.mjs";
import { startPlatform } from "./platform.mjs";

const COLLECTOR = "platform-error-collector";
const INBOX = "platform-notifications";
const APP = "test-consumer";
const DEMO_DIR = join(REPO_ROOT, "tests/demo");
// What the application does each tick (a second): [path, every n ticks].
const TRAFFIC = [
  ["/work?feature=shop:api:checkout&kv=8&d1=3", 1],
  ["/work?feature=shop:api:search&kv=4&d1=1", 2],
  ["/heartbeat?feature=shop:jobs:sync", 10],
  ["/throw?feature=shop:api:checkout", 7],
  ["/log-error?feature=shop:api:search", 13],
];

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "8787" },
    host: { type: "string", default: "127.0.0.1" },
    "control-port": { type: "string", default: "8780" },
    demo: { type: "boolean", default: true },
  },
});

const platform = await startPlatform({
  listen: { host: values.host, port: Number(values.port) },
  consumer: { tails: [COLLECTOR] },
  queueBatchTimeout: 1,
  secrets: {
    NOTIFY_TOKEN: "demo-notify-token",
    SLACK_WEBHOOK_URL: "https://hooks.slack.com/services/TDEMO/BDEMO/demo",
    GITHUB_TOKEN: "ghp_demoToken0123456789abcdef0123456789",
    // Miniflare's tail events carry no script name, so the collector files them as an unmapped
    // script's, in this repository.
    DEFAULT_REPOSITORY: "demo/shop",
  },
});

const text = (file) => readFileSync(join(DEMO_DIR, file), "utf8");
const sync = syncBody({ services: text("services.yaml"), budgets: text("budgets.yaml") });
const synced = await platform.adminFetch("platform-sync-config", "/sync", {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify(sync.body),
});
if (!synced.ok) throw new Error(`the demo config was refused: ${await synced.text()}`);
const admin = (path, body) =>
  platform.adminFetch(INBOX, path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
await admin("/users", { id: "operator", role: "admin", display_name: "Demo operator" });
const { token } = await (await admin("/users/operator/tokens", { label: "demo" })).json();

const counts = { ok: 0, refused: 0, failed: 0 };
let tick = 0;
const traffic = setInterval(async () => {
  tick += 1;
  for (const [path, every] of TRAFFIC) {
    if (tick % every !== 0) continue;
    try {
      const response = await platform.fetch(APP, path);
      await response.arrayBuffer();
      if (response.status === 503) counts.refused += 1;
      else if (response.ok) counts.ok += 1;
      else counts.failed += 1;
    } catch {
      counts.failed += 1;
    }
  }
}, 1000);

const escape = (value) =>
  String(value).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const dashboard = `${platform.urls[INBOX].replace(/\/$/, "")}/dashboard`;
let lastRun = "";

async function controlPage() {
  const crons = platform.workers
    .flatMap((config) => config.crons.map((cron) => [config.name, cron]))
    .map(([worker, cron]) =>
      `<tr><td>${escape(worker)}</td><td><code>${escape(cron)}</code></td><td><form method="post" action="/cron">` +
      `<input type="hidden" name="worker" value="${escape(worker)}"><input type="hidden" name="cron" value="${escape(cron)}">` +
      `<button>Run now</button></form></td></tr>`)
    .join("");
  const requests = (await platform.fakes.requests()).slice(-40).reverse();
  const fakes = requests
    .map((r) => {
      let summary = r.body ?? "";
      try {
        const body = JSON.parse(r.body);
        summary = body.text ?? body.title ?? body.body ?? r.body;
      } catch {}
      return `<tr><td>${escape(r.service)}</td><td>${escape(r.method)} ${escape(r.url)}</td><td>${escape(String(summary).slice(0, 300))}</td></tr>`;
    })
    .join("");
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">` +
    `<meta name="viewport" content="width=device-width, initial-scale=1"><title>Platform demo</title>` +
    `<style>body{font:15px system-ui,sans-serif;margin:1rem auto;max-width:70rem;padding:0 1rem}td,th{border-bottom:1px solid #ccc;padding:.3rem;text-align:left;vertical-align:top}table{border-collapse:collapse;width:100%}code{font-size:.9em}</style></head><body>` +
    `<h1>Platform demo</h1><p>Dashboard: <a href="${escape(dashboard)}">${escape(dashboard)}</a>, sign in with the admin token <code>${escape(token)}</code>.</p>` +
    `<p>The application (${escape(APP)}): ${counts.ok} requests served, ${counts.refused} refused by a breaker, ${counts.failed} failed (its thrown errors, on purpose). This page refreshes every 5 s.</p>` +
    (lastRun ? `<p><strong>${escape(lastRun)}</strong></p>` : "") +
    `<h2>Crons</h2><table><tr><th>Worker</th><th>Cron</th><th></th></tr>${crons}</table>` +
    `<h2>What the fake Slack and GitHub received (newest first)</h2><table><tr><th>Service</th><th>Request</th><th>Message</th></tr>${fakes}</table></body></html>`;
}

const control = createServer(async (request, response) => {
  try {
    if (request.method === "POST" && request.url === "/cron") {
      let body = "";
      for await (const chunk of request) body += chunk;
      const form = new URLSearchParams(body);
      const { outcome } = await platform.cron(form.get("worker"), form.get("cron"));
      lastRun = `${form.get("worker")} ${form.get("cron")}: ${outcome} at ${new Date().toISOString()}`;
      response.writeHead(303, { location: "/" }).end();
      return;
    }
    response.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(await controlPage());
  } catch (error) {
    response.writeHead(500, { "content-type": "text/plain" }).end(String(error?.stack ?? error));
  }
});
control.listen(Number(values["control-port"]), values.host);

console.log("\nDemo running (in memory; outbound calls go to the fake APIs):");
for (const [name, url] of Object.entries(platform.urls)) console.log(`  ${name.padEnd(28)} ${url}`);
console.log(`\n  dashboard                    ${dashboard}   (sign in with ${token})`);
console.log(`  control page (crons, fakes)  http://${values.host}:${values["control-port"]}/`);
console.log(`\nADMIN_TOKEN ${platform.adminToken}\nPress Ctrl-C to stop.`);

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, async () => {
    clearInterval(traffic);
    control.close();
    await platform.dispose();
    process.exit(0);
  });
}
