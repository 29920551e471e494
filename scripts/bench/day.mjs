// A day in the life of the platform: every worker's crons at their schedules over 24 simulated
// hours, with telemetry at a rate that stands for --per-day messages (default 1,000,000), all in
// the real workers in Miniflare. Sums the footprint line each invocation logs (KV and D1 as they
// are billed, subrequests) and prices the day on the Workers Paid plan.
//
// Telemetry is sampled to keep the run short: --batches-per-hour real batches of 100 messages are
// sent each simulated hour and the telemetry handler's figures are scaled to the full rate (its
// cost per batch does not depend on how many batches there are). The day's first batch is counted
// once, unscaled: it warms the isolate's caches. Cron figures are not scaled.
// An idle day (no telemetry) runs first. --features takes a list: each count is a busy day, and
// the growth table and plot (--plot) compare them.

import { writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { loadWorkerConfigs } from "../../tests/harness/config.mjs";
import { featureBudgetKey } from "../../tests/harness/platform-keys.mjs";
import { startPlatform } from "../../tests/harness/platform.mjs";
import { costGrowthSvg } from "./plot.mjs";

const { values } = parseArgs({
  options: {
    "per-day": { type: "string", default: "1000000" },
    "batches-per-hour": { type: "string", default: "20" },
    features: { type: "string", default: "50" },
    plot: { type: "string" },
  },
});
const PER_DAY = Number(values["per-day"]);
const BATCHES_PER_HOUR = Number(values["batches-per-hour"]);
// "none": the idle day only.
const FEATURE_COUNTS = values.features === "none" ? [] : values.features.split(",").map(Number);
const BATCH = 100;
const HOUR = 3_600_000;
const TELEMETRY_HANDLER = "telemetry";

// Workers Paid, per month: [included, dollars per million]. landscape-and-usage-facts.md §4.
const PAID = {
  requests: [10e6, 0.3],
  kv_reads: [10e6, 0.5],
  kv_writes: [1e6, 5],
  kv_deletes: [1e6, 5],
  kv_lists: [1e6, 5],
  d1_rows_read: [25e9, 0.001],
  d1_rows_written: [50e6, 1],
  queue_operations: [1e6, 0.4],
};
const FREE_KV_WRITES_PER_DAY = 1000;

// Whether a five-field cron expression fires at `date` (UTC): numbers, "*", "*\/n", lists, ranges.
function fires(cron, date) {
  const fields = cron.trim().split(/\s+/);
  const now = [date.getUTCMinutes(), date.getUTCHours(), date.getUTCDate(), date.getUTCMonth() + 1, date.getUTCDay()];
  const matches = (field, value) =>
    field.split(",").some((part) => {
      const [range, step = "1"] = part.split("/");
      const [low, high] = range === "*" ? [0, 59] : range.split("-").map(Number);
      const top = range === "*" || range.includes("-") ? high : low;
      return value >= low && value <= top && (value - low) % Number(step) === 0;
    });
  return fields.length === 5 && fields.every((field, i) => matches(field, now[i]));
}

const footprints = [];
/** A fresh platform: each simulated day starts from empty storage, so one day's features do not
 * go silent (and alert) on the next. */
const startDay = () =>
  startPlatform({
    secrets: { SLACK_WEBHOOK_URL: "https://hooks.slack.com/services/T/B/X", GITHUB_TOKEN: "bench-token" },
    handleRuntimeStdio(stdout, stderr) {
      createInterface({ input: stdout }).on("line", (line) => {
        if (line.includes('"event":"footprint"')) footprints.push(JSON.parse(line.slice(line.indexOf("{"))));
      });
      stderr.resume();
    },
  });
let platform;
const workers = loadWorkerConfigs().filter((w) => w.crons.length > 0);
const telemetryQueue = loadWorkerConfigs().find((w) => w.crate === "platform-usage").queueConsumers[0].queue;

/** Runs one simulated day from `start` on a fresh platform; returns the summed footprint. */
async function day(start, features) {
  await platform?.dispose();
  platform = await startDay();
  for (const feature of features.slice(0, 1000)) {
    await platform.kv.put(featureBudgetKey(feature), JSON.stringify({ kv_reads: 1e12, d1_writes: 1e12 }));
  }
  footprints.length = 0;
  const received = (await platform.fakes.requests()).length;
  const produced = { messages: 0, batches: 0 };
  let seq = 0;
  for (let minute = 0; minute < 24 * 60; minute++) {
    const at = new Date(start + minute * 60_000);
    for (const worker of workers) {
      for (const cron of worker.crons.filter((c) => fires(c, at))) await platform.cron(worker.name, cron, at.getTime());
    }
    // The hour's sampled batches, spread over it.
    if (features.length > 0 && minute % Math.max(1, Math.floor(60 / BATCHES_PER_HOUR)) === 0) {
      const batch = Array.from({ length: BATCH }, (_, i) => {
        const feature = features[(seq * BATCH + i) % features.length];
        return {
          id: `day-${start}-${seq}-${i}`,
          timestamp: at,
          body: { feature_key: feature, metrics: { kvReads: 3, d1Writes: 1 }, timestamp: at.getTime() },
        };
      });
      seq++;
      await platform.queue("platform-usage", telemetryQueue, batch);
      produced.messages += BATCH;
      produced.batches++;
    }
    if (minute % 240 === 239) process.stderr.write(`  ${String(minute + 1).padStart(4)} of 1440 simulated minutes\n`);
  }
  // Let the last invocations' log lines arrive.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const sum = (rows, field) => rows.reduce((total, row) => total + (row[field] ?? 0), 0);
  const telemetry = footprints.filter((f) => f.worker === "platform-usage" && f.handler === TELEMETRY_HANDLER);
  const crons = footprints.filter((f) => !telemetry.includes(f));
  const [warmup, ...steady] = telemetry;
  const scale = steady.length > 0 ? (PER_DAY / BATCH - 1) / steady.length : 0;
  const fields = ["kv_reads", "kv_writes", "kv_deletes", "kv_lists", "d1_rows_read", "d1_rows_written", "subrequests", "d1_round_trips"];
  const totals = Object.fromEntries(
    fields.map((f) => [f, sum(crons, f) + (warmup?.[f] ?? 0) + sum(steady, f) * scale]),
  );
  totals.requests = crons.length + (produced.batches > 0 ? PER_DAY / BATCH : 0);
  // The platform's own queue operations: a read and an acknowledgement per message.
  totals.queue_operations = produced.batches > 0 ? 2 * PER_DAY : 0;
  totals.invocations = { crons: crons.length, telemetry_batches_sampled: produced.batches, scale };
  // What the fake third-party APIs received: the subrequests by service and path, unscaled.
  const calls = {};
  for (const request of (await platform.fakes.requests()).slice(received)) {
    const name = `${request.service} ${request.method} ${new URL(request.url).pathname.replace(/\/\d+/g, "/N")}`;
    calls[name] = (calls[name] ?? 0) + 1;
  }
  totals.calls = calls;
  return totals;
}

/**
 * Dollars for the day: usage above a day's share of the monthly allowance, at overage prices.
 * Queue operations are priced apart (`feed`): they are what consuming the applications' telemetry
 * costs, whatever the platform does with it.
 */
function dollars(totals, fields = Object.keys(PAID).filter((f) => f !== "queue_operations")) {
  return fields.map((f) => [f, PAID[f]]).reduce((cost, [field, [included, perMillion]]) => {
    const over = Math.max(0, (totals[field] ?? 0) - included / 30);
    return cost + (over / 1e6) * perMillion;
  }, 0);
}

const share = (totals, field) => `${(((totals[field] ?? 0) / (PAID[field][0] / 30)) * 100).toFixed(2)}% of the day's share`;
const fmt = (n) => Math.round(n).toLocaleString("en-US");
function print(title, totals) {
  console.log(`\n${title}`);
  console.log(`  ${"KV writes".padEnd(22)} ${fmt(totals.kv_writes + totals.kv_deletes).padStart(14)} per day`);
  console.log(`  ${"KV reads".padEnd(22)} ${fmt(totals.kv_reads).padStart(14)} per day`);
  console.log(`  ${"KV lists".padEnd(22)} ${fmt(totals.kv_lists).padStart(14)} per day`);
  console.log(`  ${"D1 rows written".padEnd(22)} ${fmt(totals.d1_rows_written).padStart(14)} per day (${share(totals, "d1_rows_written")})`);
  console.log(`  ${"D1 rows read".padEnd(22)} ${fmt(totals.d1_rows_read).padStart(14)} per day (${share(totals, "d1_rows_read")})`);
  console.log(`  ${"D1 round trips".padEnd(22)} ${fmt(totals.d1_round_trips).padStart(14)} per day`);
  console.log(`  ${"subrequests".padEnd(22)} ${fmt(totals.subrequests).padStart(14)} per day`);
  for (const [call, n] of Object.entries(totals.calls)) console.log(`    ${call.padEnd(48)} ${String(n).padStart(6)} (unscaled)`);
  console.log(`  ${"queue operations".padEnd(22)} ${fmt(totals.queue_operations).padStart(14)} per day`);
  console.log(`  ${"invocations".padEnd(22)} ${fmt(totals.requests).padStart(14)} per day (${totals.invocations.crons} cron runs)`);
  console.log(`  ${"cost, Workers Paid".padEnd(22)} ${("$" + dollars(totals).toFixed(4)).padStart(14)} per day above the included amounts (estimate: requests, KV, D1)`);
  console.log(`  ${"cost of the feed".padEnd(22)} ${("$" + dollars(totals, ["queue_operations"]).toFixed(4)).padStart(14)} per day (estimate: the queue operations of consuming the telemetry)`);
}
const goal = (name, value, text, met) => console.log(`  ${name.padEnd(38)} ${value.padStart(14)}   goal ${text.padEnd(30)} ${met ? "met" : "NOT MET"}`);

try {
  const start = Date.UTC(2026, 2, 2);
  process.stderr.write("idle day\n");
  const idle = await day(start, []);
  print("idle day (no telemetry)", idle);
  const busy = [];
  for (const [n, count] of FEATURE_COUNTS.entries()) {
    const features = Array.from({ length: count }, (_, i) => `day${n}:api:feature-${i}`);
    process.stderr.write(`busy day, ${count} features\n`);
    const totals = await day(start + (n + 1) * 24 * HOUR, features);
    busy.push({ features: count, totals });
    print(`busy day: ${fmt(PER_DAY)} messages over ${fmt(count)} features (${totals.invocations.telemetry_batches_sampled} batches sent, the first counted once, the rest scaled ×${totals.invocations.scale.toFixed(1)})`, totals);
  }

  console.log("\ngoals");
  goal("idle: KV writes per day", fmt(idle.kv_writes + idle.kv_deletes), "<= 50", idle.kv_writes + idle.kv_deletes <= 50);
  for (const { features, totals } of busy) {
    const writes = totals.kv_writes + totals.kv_deletes;
    goal(`${fmt(features)} features: KV writes per day`, fmt(writes), `<= ${FREE_KV_WRITES_PER_DAY} (Free plan's daily limit)`, writes <= FREE_KV_WRITES_PER_DAY);
    const included = PAID.d1_rows_written[0] / 30;
    goal(`${fmt(features)} features: D1 rows written per day`, fmt(totals.d1_rows_written), `< ${fmt(included)} (Paid, per day)`, totals.d1_rows_written < included);
  }

  console.log("\ncost growth (per day, telemetry at the full rate)");
  console.log(`  ${"features".padStart(8)} ${"KV writes".padStart(10)} ${"KV reads".padStart(10)} ${"D1 rows written".padStart(16)} ${"D1 rows read".padStart(14)} ${"dollars".padStart(9)}`);
  for (const { features, totals } of busy) {
    console.log(
      `  ${fmt(features).padStart(8)} ${fmt(totals.kv_writes + totals.kv_deletes).padStart(10)} ${fmt(totals.kv_reads).padStart(10)} ${fmt(totals.d1_rows_written).padStart(16)} ${fmt(totals.d1_rows_read).padStart(14)} ${("$" + dollars(totals).toFixed(2)).padStart(9)}`,
    );
  }
  if (values.plot) {
    writeFileSync(values.plot, costGrowthSvg(busy.map(({ features, totals }) => ({ features, totals, dollars: dollars(totals) })), PAID));
    console.log(`\nplot written to ${values.plot}`);
  }
} finally {
  await platform?.dispose();
}
