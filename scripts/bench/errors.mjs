// Feeds tail batches of 100 events to error-collector and reports what each batch cost: events/s,
// D1 round trips for counts and KV writes per batch, GitHub calls per distinct fingerprint. The
// budget: at most 1 D1 round trip per batch for counts, 0 KV writes for repeats of a known error.

import { createInterface } from "node:readline";
import { readFileSync, statSync } from "node:fs";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { startPlatform } from "../../tests/harness/platform.mjs";

const { values } = parseArgs({
  options: { batches: { type: "string", default: "50" }, fingerprints: { type: "string", default: "20" }, scripts: { type: "string", default: "4" } },
});
const BATCHES = Number(values.batches);
const FINGERPRINTS = Number(values.fingerprints);
const SCRIPTS = Number(values.scripts);
const BATCH = 100;
const COLLECTOR = "platform-error-collector";

const reports = [];
const platform = await startPlatform({
  workers: ["error-collector"],
  secrets: { GITHUB_TOKEN: "bench-token" },
  handleRuntimeStdio(stdout, stderr) {
    createInterface({ input: stdout }).on("line", (line) => {
      if (line.includes('"d1_round_trips"')) reports.push(JSON.parse(line.slice(line.indexOf("{"))));
    });
    stderr.resume();
  },
});

try {
  const scripts = Array.from({ length: SCRIPTS }, (_, i) => `bench-app-${i}`);
  for (const script of scripts) {
    await platform.kv.put(`SCRIPT_MAP:${script}`, JSON.stringify({ project: script, repository: `bench/${script}`, tier: 1, displayName: script }));
  }
  const event = (n) => {
    const kind = n % FINGERPRINTS;
    return {
      scriptName: scripts[kind % SCRIPTS],
      outcome: "exception",
      eventTimestamp: Date.now(),
      event: { request: { url: `https://bench.example/items/${n}?session=${crypto.randomUUID()}`, method: "GET" } },
      exceptions: [{ name: "Error", message: `failure kind ${String.fromCharCode(97 + (kind % 26))}${Math.floor(kind / 26)} for order ${n} at ${new Date().toISOString()}`, timestamp: Date.now() }],
      logs: [{ level: "log", message: [JSON.stringify({ level: "info", message: `handling ${n}`, correlationId: crypto.randomUUID() })], timestamp: Date.now() }],
    };
  };
  const started = performance.now();
  for (let b = 0; b < BATCHES; b++) {
    await platform.tail(COLLECTOR, Array.from({ length: BATCH }, (_, i) => event(b * BATCH + i)));
  }
  const seconds = (performance.now() - started) / 1000;
  // Reports arrive through stdout; give the last line a moment.
  await new Promise((resolve) => setTimeout(resolve, 200));
  const github = await platform.fakes.requests({ service: "github" });
  const distinct = (await platform.d1.first("SELECT count(*) AS n FROM error_fingerprints")).n;
  const counted = (await platform.d1.first("SELECT sum(occurrences) AS n FROM error_fingerprints")).n;

  const stat = (field, from = 0) => {
    const values = reports.slice(from).map((r) => r[field]);
    return { mean: values.reduce((a, b) => a + b, 0) / Math.max(values.length, 1), max: Math.max(...values) };
  };
  const row = (name, { mean, max }) => console.log(`${name.padEnd(44)} mean ${mean.toFixed(2).padStart(7)}   max ${String(max).padStart(4)}`);
  console.log(`\nerror-collector: ${BATCHES} tail batches of ${BATCH} events, ${FINGERPRINTS} distinct errors over ${SCRIPTS} scripts`);
  console.log(`${"throughput".padEnd(44)} ${((BATCHES * BATCH) / seconds).toFixed(0)} events/s (${seconds.toFixed(1)} s, one local workerd)`);
  console.log(`${"occurrences counted / sent".padEnd(44)} ${counted} / ${BATCHES * BATCH}`);
  row("D1 round trips for counts per batch", stat("d1_round_trips"));
  row("KV writes per batch (all)", stat("kv_writes"));
  row("KV writes per batch (after the first)", stat("kv_writes", 1));
  row("GitHub calls per batch", stat("github_calls"));
  console.log(`${"GitHub calls per distinct fingerprint".padEnd(44)} ${(github.length / distinct).toFixed(2)} (${github.length} calls, ${distinct} fingerprints)`);
  const wasm = "workers/error-collector/build/index_bg.wasm";
  console.log(`${"wasm".padEnd(44)} ${statSync(wasm).size} bytes, ${gzipSync(readFileSync(wasm), { level: 9 }).length} gzipped`);
} finally {
  await platform.dispose();
}
