// Feeds telemetry through the real queue to platform-usage and reports what each batch cost: the
// figures the platform's own budget is judged by (KV reads and writes, D1 round trips per batch).

import { createInterface } from "node:readline";
import { statSync } from "node:fs";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { readFileSync } from "node:fs";
import { pollUntil } from "../../tests/harness/poll.mjs";
import { featureBudgetKey } from "../../tests/harness/platform-keys.mjs";
import { startPlatform } from "../../tests/harness/platform.mjs";

const { values } = parseArgs({
  options: { messages: { type: "string", default: "10000" }, features: { type: "string", default: "50" } },
});
const MESSAGES = Number(values.messages);
const FEATURES = Number(values.features);
const SEND_BATCH = 100; // sendBatch's limit

const reports = [];
const platform = await startPlatform({
  workers: ["platform-usage"],
  handleRuntimeStdio(stdout, stderr) {
    createInterface({ input: stdout }).on("line", (line) => {
      if (line.includes('"event":"telemetry_batch"')) reports.push(JSON.parse(line.slice(line.indexOf("{"))));
    });
    stderr.resume();
  },
});

try {
  const features = Array.from({ length: FEATURES }, (_, i) => `bench:api:feature-${i}`);
  for (const feature of features) {
    await platform.kv.put(featureBudgetKey(feature), JSON.stringify({ kv_reads: 1e12, d1_writes: 1e12 }));
  }
  const producer = await platform.mf.getQueueProducer("PLATFORM_TELEMETRY", "platform-usage");
  const started = performance.now();
  for (let sent = 0; sent < MESSAGES; sent += SEND_BATCH) {
    const batch = Array.from({ length: Math.min(SEND_BATCH, MESSAGES - sent) }, (_, i) => {
      const feature = features[(sent + i) % FEATURES];
      const [project, category, name] = feature.split(":");
      return {
        body: { feature_key: feature, project, category, feature: name, metrics: { kvReads: 3, d1Writes: 1 }, timestamp: Date.now() },
      };
    });
    await producer.sendBatch(batch);
  }
  const counted = () => platform.d1.first("SELECT sum(value) AS n FROM usage_totals WHERE kind = 'project' AND metric = 'd1_writes' AND length(period) = 10");
  await pollUntil(async () => ((await counted())?.n === MESSAGES ? true : undefined), { timeoutMs: 600_000, intervalMs: 200, what: "every message counted" });
  const seconds = (performance.now() - started) / 1000;

  const stat = (field) => {
    const values = reports.map((r) => r[field]);
    return { mean: values.reduce((a, b) => a + b, 0) / values.length, max: Math.max(...values) };
  };
  const wasm = "workers/platform-usage/build/index_bg.wasm";
  const row = (name, { mean, max }) => console.log(`${name.padEnd(34)} mean ${mean.toFixed(2).padStart(7)}   max ${String(max).padStart(4)}`);
  console.log(`\nplatform-usage: ${MESSAGES} messages over ${FEATURES} features, ${reports.length} batches`);
  console.log(`${"throughput".padEnd(34)} ${(MESSAGES / seconds).toFixed(0)} messages/s (${seconds.toFixed(1)} s, one local workerd)`);
  row("messages per batch", stat("messages"));
  row("features per batch", stat("features"));
  row("KV reads per batch", stat("kv_reads"));
  row("KV writes per batch", stat("kv_writes"));
  row("D1 round trips per batch", stat("d1_calls"));
  console.log(`${"wasm".padEnd(34)} ${statSync(wasm).size} bytes, ${gzipSync(readFileSync(wasm), { level: 9 }).length} gzipped`);
} finally {
  await platform.dispose();
}
