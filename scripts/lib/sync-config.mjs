// scripts/sync-config: reads the operator's two YAML files, posts them as JSON to the sync-config
// worker's POST /sync (the worker reads JSON only), and prints the plan (--dry-run) or the result as a readable diff. Exits 1 when the
// files have problems, 2 when the worker cannot be asked.

import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { syncBody } from "./config-files.mjs";

const USAGE = `usage: scripts/sync-config [--dry-run] [--env NAME] [--url URL] [--config DIR]
                          [--emit-bulk FILE] [--verbose]

Reads DIR/services.yaml and DIR/budgets.yaml (DIR: config/), posts them to the sync-config
worker as JSON, and prints the plan or the result: keys added (+), changed (~), removed (-).

  --dry-run         plan only: nothing is written
  --url URL         the sync-config worker (default: $SYNC_CONFIG_URL)
  --env NAME        the NAME environment: URL from $SYNC_CONFIG_URL_<NAME>, token from
                    $ADMIN_TOKEN_<NAME> (e.g. --env staging: SYNC_CONFIG_URL_STAGING)
  --config DIR      where the two files are (default: config/)
  --emit-bulk FILE  write the KV part of the plan as a \`wrangler kv bulk put\` file instead of
                    applying (keys to remove go to FILE.delete.json, for \`wrangler kv bulk delete\`)
  --verbose         list every key and value (default: the first 40 of each kind)

The admin token comes from $ADMIN_TOKEN (or $ADMIN_TOKEN_<NAME>). Exit status: 0 done, 1 the
files have problems (each is printed with its file and path), 2 the worker could not be asked.`;

const SHOWN = 40;
const POLL_MS = 1000;
const POLL_LIMIT_MS = 10 * 60 * 1000;

function fail(message, status = 2) {
  console.error(`sync-config: ${message}`);
  process.exit(status);
}

function options() {
  try {
    const { values } = parseArgs({
      options: {
        "dry-run": { type: "boolean", default: false },
        env: { type: "string" },
        url: { type: "string" },
        config: { type: "string", default: "config" },
        "emit-bulk": { type: "string" },
        verbose: { type: "boolean", default: false },
        help: { type: "boolean", default: false },
      },
    });
    return values;
  } catch (error) {
    fail(`${error.message}\n\n${USAGE}`);
  }
}

function target(opts) {
  const suffix = opts.env === undefined ? "" : `_${opts.env.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
  const url = opts.url ?? process.env[`SYNC_CONFIG_URL${suffix}`];
  const token = process.env[`ADMIN_TOKEN${suffix}`];
  if (!url) fail(`no worker URL: pass --url or set SYNC_CONFIG_URL${suffix}`);
  if (!token) fail(`no admin token: set ADMIN_TOKEN${suffix}`);
  return { url: url.replace(/\/+$/, ""), token };
}

async function ask(where, path, init = {}) {
  let response;
  try {
    response = await fetch(`${where.url}${path}`, {
      ...init,
      headers: { ...init.headers, Authorization: `Bearer ${where.token}`, "Content-Type": "application/json" },
    });
  } catch (error) {
    fail(`${where.url} could not be reached: ${error.cause?.message ?? error.message}`);
  }
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    fail(`${where.url}${path} answered ${response.status} with something other than JSON: ${text.slice(0, 200)}`);
  }
  return { status: response.status, body };
}

function printProblems(error, problems) {
  console.error(`sync-config: ${error}`);
  for (const problem of problems) {
    console.error(`  ${problem.file}: ${problem.path ? `${problem.path}: ` : ""}${problem.reason}`);
  }
  process.exit(1);
}

function list(lines, verbose) {
  const shown = verbose ? lines : lines.slice(0, SHOWN);
  for (const line of shown) console.log(line);
  if (shown.length < lines.length) console.log(`    ... and ${lines.length - shown.length} more (--verbose lists them all)`);
}

function printPlan(body, verbose) {
  const { kv, d1 } = body.plan;
  const added = kv.put.filter((put) => put.action === "add");
  const changed = kv.put.filter((put) => put.action === "change");
  const current = body.current_version ?? "nothing applied yet";
  console.log(`config ${body.version} (current: ${current})${body.dry_run ? ", dry run" : ""}`);
  console.log(`KV: ${added.length} to add, ${changed.length} to change, ${kv.delete.length} to remove, ${kv.unchanged.length} unchanged`);
  const value = (text) => (verbose || text.length <= 100 ? text : `${text.slice(0, 97)}...`);
  list([
    ...added.map((put) => `  + ${put.key}  ${value(put.value)}`),
    ...changed.map((put) => `  ~ ${put.key}  ${value(put.value)}`),
    ...kv.delete.map((key) => `  - ${key}`),
  ], verbose);
  const tables = [
    ["settings", d1.settings, (row) => `${row.key} = ${row.value}`],
    ["projects", d1.projects, (row) => `${row.project_id} (${row.repository}, tier ${row.tier})`],
    ["features", d1.features, (row) => `${row.feature_key}${row.circuit_breaker ? "" : " (no breaker)"}`],
  ];
  console.log(`D1: ${tables.reduce((n, [, diff]) => n + diff.upsert.length + diff.delete.length, 0)} row(s) to write or remove`);
  for (const [name, diff, describe] of tables) {
    if (diff.upsert.length + diff.delete.length === 0) continue;
    console.log(`  ${name}: ${diff.upsert.length} to write, ${diff.delete.length} to remove, ${diff.unchanged} unchanged`);
    list([...diff.upsert.map((row) => `    ~ ${describe(row)}`), ...diff.delete.map((key) => `    - ${key}`)], verbose);
  }
}

function emitBulk(body, file) {
  const writtenAt = Date.now();
  const puts = body.plan.kv.put.map((put) => ({
    key: put.key,
    value: put.value,
    metadata: { writer: "platform-sync-config", written_at: writtenAt, digest: put.digest },
  }));
  writeFileSync(file, `${JSON.stringify(puts, null, 2)}\n`);
  console.log(`\nwrote ${puts.length} key(s) to ${file}:`);
  console.log(`  npx wrangler kv bulk put ${file} --binding PLATFORM_CACHE -c wrangler/sync-config.toml --remote`);
  if (body.plan.kv.delete.length > 0) {
    const deletes = `${file}.delete.json`;
    writeFileSync(deletes, `${JSON.stringify(body.plan.kv.delete, null, 2)}\n`);
    console.log(`wrote ${body.plan.kv.delete.length} key(s) to remove to ${deletes}:`);
    console.log(`  npx wrangler kv bulk delete ${deletes} --binding PLATFORM_CACHE -c wrangler/sync-config.toml --remote`);
  }
  const d1 = body.plan.d1;
  if (d1.settings.upsert.length + d1.settings.delete.length + d1.projects.upsert.length + d1.projects.delete.length
      + d1.features.upsert.length + d1.features.delete.length > 0) {
    console.log("note: the D1 part of the plan (settings, registries) is not in the file; apply it with scripts/sync-config.");
  }
}

async function main() {
  const opts = options();
  if (opts.help) {
    console.log(USAGE);
    return;
  }
  const dir = resolve(opts.config);
  const read = (name) => {
    try {
      return readFileSync(join(dir, name), "utf8");
    } catch (error) {
      fail(`cannot read ${join(dir, name)}: ${error.message}`);
    }
  };
  const files = syncBody({ services: read("services.yaml"), budgets: read("budgets.yaml") });
  if (files.problems) {
    const count = files.problems.length;
    printProblems(`${count} ${count === 1 ? "file is" : "files are"} not valid YAML; nothing was sent`, files.problems);
  }
  const where = target(opts);
  const dryRun = opts["dry-run"] || opts["emit-bulk"] !== undefined;
  const { status, body } = await ask(where, `/sync${dryRun ? "?dry_run=1" : ""}`, {
    method: "POST",
    body: JSON.stringify(files.body),
  });
  if (status === 400 && Array.isArray(body.problems)) printProblems(body.error, body.problems);
  if (status !== 200 && status !== 202) fail(`POST /sync answered ${status}: ${body.error ?? JSON.stringify(body)}`);

  printPlan(body, opts.verbose);
  if (opts["emit-bulk"] !== undefined) return emitBulk(body, opts["emit-bulk"]);
  if (dryRun) return;

  const result = body.result;
  if (result.recorded === false && result.kv_ops === 0 && result.d1_changes === 0) {
    console.log(`\nnothing to do: ${body.version} is applied`);
    return;
  }
  for (const failure of result.failed ?? []) console.log(`  ! ${failure.key}: ${failure.error}`);
  if (result.complete) {
    console.log(`\napplied ${body.version}: ${result.kv_written} key(s) written, ${result.kv_deleted} removed, ${result.d1_changes} row(s) changed`);
    return;
  }
  console.log(`\napplying ${body.version} in the background (${result.remaining} KV operation(s) left)...`);
  const deadline = Date.now() + POLL_LIMIT_MS;
  for (;;) {
    await new Promise((done) => setTimeout(done, POLL_MS));
    const current = (await ask(where, "/config")).body;
    if (current.version !== body.version) fail(`another config (${current.version}) was applied meanwhile`);
    const { kv_done: done, kv_total: total, runs } = current.progress;
    console.log(`  ${done}/${total} KV operations, ${runs} run(s)`);
    if (current.status === "applied") {
      console.log(`applied ${body.version}`);
      return;
    }
    if (Date.now() > deadline) fail(`still applying after ${POLL_LIMIT_MS / 60000} minutes; see GET /config`);
  }
}

await main();
