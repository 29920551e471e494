// What collecting the account's own usage costs per collected hour, for an account of N scripts
// (default 200) with KV namespaces, D1 databases, R2 buckets and queues: the subrequests, D1 rows
// written and KV writes each hourly run of platform-usage's collector makes, as its footprint line
// reports them. Runs --hours hourly collections on a steady account (the same figures every hour),
// then one run again inside the last hour (nothing to collect), then a run after a missed day.

import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { startPlatform } from "../../tests/harness/platform.mjs";

const { values } = parseArgs({
  options: {
    scripts: { type: "string", default: "200" },
    hours: { type: "string", default: "30" },
  },
});
const SCRIPTS = Number(values.scripts);
const HOURS = Number(values.hours);
const ACCOUNT = "0123456789abcdef0123456789abcdef";
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const START = Math.floor(Date.now() / DAY) * DAY - 5 * DAY;

const footprints = [];
const platform = await startPlatform({
  workers: ["platform-usage"],
  secrets: { CLOUDFLARE_API_TOKEN: "bench-token", CLOUDFLARE_ACCOUNT_ID: ACCOUNT },
  handleRuntimeStdio(stdout, stderr) {
    createInterface({ input: stdout }).on("line", (line) => {
      if (line.includes('"event":"footprint"') && line.includes('"handler":"collect"')) footprints.push(JSON.parse(line.slice(line.indexOf("{"))));
    });
    stderr.resume();
  },
});

const range = (n, f) => Array.from({ length: n }, (_, i) => f(i));
const program = (node, groups) => platform.fakes.programAnalytics(ACCOUNT, node, { groups });

try {
  const projects = range(Math.ceil(SCRIPTS / 10), (p) => [`project-${p}`, { scripts: range(10, (i) => `script-${p * 10 + i}`).filter((_, i) => p * 10 + i < SCRIPTS) }]);
  await platform.d1.exec(
    "INSERT INTO config_history (version, applied_at, document, summary, kv_total, kv_done, runs) VALUES ('bench', 0, ?, '{}', 0, 0, 1)",
    JSON.stringify({ services: { projects: Object.fromEntries(projects) }, budgets: {} }),
  );
  await program("workersInvocationsAdaptive", range(SCRIPTS, (i) => ({
    dimensions: { scriptName: `script-${i}` }, sum: { requests: 1000 + i, errors: i % 7, subrequests: 3 * i }, quantiles: { cpuTimeP50: 1200 }, avg: { sampleInterval: 1 },
  })));
  await program("kvOperationsAdaptiveGroups", range(20, (i) => ["read", "write", "delete", "list"].map((actionType) => ({
    dimensions: { namespaceId: `ns-${i}`, actionType }, sum: { requests: 50 + i }, avg: { sampleInterval: 1 },
  }))).flat());
  await program("kvStorageAdaptiveGroups", range(20, (i) => ({ dimensions: { namespaceId: `ns-${i}` }, max: { byteCount: 1e6 + i } })));
  await program("d1AnalyticsAdaptiveGroups", range(10, (i) => ({
    dimensions: { databaseId: i === 0 ? "platform-db" : `db-${i}` }, sum: { rowsRead: 1e4, rowsWritten: 100, readQueries: 50, writeQueries: 20 }, avg: { sampleInterval: 1 },
  })));
  await program("r2OperationsAdaptiveGroups", range(10, (i) => ["PutObject", "GetObject"].map((actionType) => ({
    dimensions: { bucketName: `bucket-${i}`, actionType }, sum: { requests: 30 }, avg: { sampleInterval: 1 },
  }))).flat());
  await program("queueMessageOperationsAdaptiveGroups", range(5, (i) => ({ dimensions: { queueId: `queue-${i}` }, sum: { billableOperations: 300 }, avg: { sampleInterval: 1 } })));
  await program("durableObjectsPeriodicGroups", range(10, (i) => ({ dimensions: { scriptName: `script-${i}` }, sum: { duration: 40, rowsRead: 0, rowsWritten: 0 } })));

  const collect = (at) => platform.cron("platform-usage", "7 * * * *", at);
  for (let h = 1; h <= HOURS; h++) await collect(START + h * HOUR + 7 * 60_000);
  const steady = footprints.slice();
  await collect(START + HOURS * HOUR + 40 * 60_000);
  const again = footprints.slice(steady.length);
  await collect(START + (HOURS + 25) * HOUR + 7 * 60_000);
  const missedDay = footprints.slice(steady.length + again.length);

  const rowsStored = (await platform.d1.first("SELECT count(*) AS n FROM account_usage")).n;
  const line = (label, runs, hours) => {
    const sum = (field) => runs.reduce((total, f) => total + f[field], 0);
    const per = (field) => (hours === 0 ? sum(field) : sum(field) / hours).toFixed(2).padStart(10);
    console.log(`${label.padEnd(42)}${per("subrequests")}${per("d1_rows_written")}${per("kv_writes")}${per("kv_reads")}${per("d1_round_trips")}`);
  };
  console.log(`collecting a ${SCRIPTS}-script account: per collected hour (per run where no hour is collected)`);
  console.log(`${"".padEnd(42)}${"subreqs".padStart(10)}${"D1 rows w".padStart(10)}${"KV writes".padStart(10)}${"KV reads".padStart(10)}${"D1 trips".padStart(10)}`);
  line("first hour (footprint keys written)", steady.slice(0, 1), 1);
  line(`steady hours 2-${HOURS}`, steady.slice(1), HOURS - 1);
  line(`steady hours 26-${HOURS} (24 h window full)`, steady.slice(25), HOURS - 25);
  line("the cron again within the hour (per run)", again, 0);
  line("after a missed day (24 hours in one run)", missedDay, 24);
  console.log(`account_usage rows stored: ${rowsStored} (${HOURS + 24} hours × datasets)`);
  const worst = Math.max(...steady.slice(25).map((f) => f.kv_writes));
  console.log(`goal: at most 1 KV write per collected hour when nothing changes: ${worst <= 1 ? "ok" : `NOT MET (${worst})`}`);
} finally {
  await platform.dispose();
}
