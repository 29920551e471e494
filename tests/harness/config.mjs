// Reads the wrangler configs (wrangler/*.toml) into one normalised description per worker, so the
// harness wires Miniflare from exactly what gets deployed and never keeps its own list of bindings.

import { readFileSync, readdirSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "smol-toml";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const WRANGLER_DIR = join(REPO_ROOT, "wrangler");

/**
 * Every worker config in `dir`, in file-name order. With `env`, the `[env.<env>]` section is applied the
 * way wrangler applies it: `name`, bindings and vars come from the env section only, while `main`,
 * the compatibility settings and the triggers are inherited when the env section does not set them.
 */
export function loadWorkerConfigs({ dir = WRANGLER_DIR, env } = {}) {
  return readdirSync(dir)
    .filter((file) => file.endsWith(".toml"))
    .sort()
    .map((file) => loadWorkerConfig(join(dir, file), { env }));
}

export function loadWorkerConfig(configPath, { env } = {}) {
  const top = parse(readFileSync(configPath, "utf8"));
  const section = env === undefined ? top : envSection(top, env, configPath);
  const inherited = (key) => section[key] ?? top[key];
  const configDir = dirname(configPath);
  const scriptPath = resolve(configDir, requireString(inherited("main"), "main", configPath));
  const d1Databases = section.d1_databases ?? [];

  return {
    crate: basename(configPath, ".toml"),
    configPath,
    name: section === top ? requireString(top.name, "name", configPath) : section.name ?? `${top.name}-${env}`,
    scriptPath,
    modulesRoot: dirname(scriptPath),
    compatibilityDate: requireString(inherited("compatibility_date"), "compatibility_date", configPath),
    compatibilityFlags: inherited("compatibility_flags") ?? [],
    kv: bindingMap(section.kv_namespaces, "id"),
    d1: bindingMap(d1Databases, "database_id"),
    migrationsDirs: Object.fromEntries(
      d1Databases
        .filter((db) => db.migrations_dir !== undefined)
        .map((db) => [db.database_id, resolve(configDir, db.migrations_dir)]),
    ),
    vars: section.vars ?? {},
    crons: inherited("triggers")?.crons ?? [],
    queueProducers: bindingMap(section.queues?.producers, "queue"),
    queueConsumers: (section.queues?.consumers ?? []).map((consumer) => ({
      queue: consumer.queue,
      maxBatchSize: consumer.max_batch_size,
      maxBatchTimeout: consumer.max_batch_timeout,
      maxRetries: consumer.max_retries,
      deadLetterQueue: consumer.dead_letter_queue,
      retryDelay: consumer.retry_delay,
    })),
    services: bindingMap(section.services, "service"),
  };
}

function envSection(top, env, configPath) {
  const section = top.env?.[env];
  if (section === undefined) throw new Error(`${configPath} has no [env.${env}] section`);
  return section;
}

function bindingMap(entries = [], valueKey) {
  return Object.fromEntries(entries.map((entry) => [entry.binding, entry[valueKey]]));
}

function requireString(value, key, configPath) {
  if (typeof value !== "string" || value === "") throw new Error(`${configPath}: \`${key}\` must be a non-empty string`);
  return value;
}
