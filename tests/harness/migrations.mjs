// Applies D1 migrations the way `wrangler d1 migrations apply` does: *.sql files in name order, each
// recorded in `d1_migrations`, so a database that already has them (a persisted dev database) is left alone.

import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { splitSqlStatements } from "./sql.mjs";

// Same table and columns as wrangler's, so wrangler and the harness agree on what is applied.
const MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS d1_migrations (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT UNIQUE,
  applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
)`;

export function migrationFiles(dir) {
  return readdirSync(dir)
    .filter((file) => file.endsWith(".sql"))
    .sort();
}

/** Applies the migrations in `dir` that `db` has not recorded yet; returns their file names. */
export async function applyMigrations(db, dir) {
  await db.prepare(MIGRATIONS_TABLE).run();
  const { results } = await db.prepare("SELECT name FROM d1_migrations").all();
  const applied = new Set(results.map((row) => row.name));
  const pending = migrationFiles(dir).filter((file) => !applied.has(file));

  for (const file of pending) {
    const statements = splitSqlStatements(readFileSync(join(dir, file), "utf8"));
    // One batch per file: D1 runs a batch as a transaction, so a failing migration leaves no trace.
    await db.batch([
      ...statements.map((sql) => db.prepare(sql)),
      db.prepare("INSERT INTO d1_migrations (name) VALUES (?)").bind(file),
    ]);
  }
  return pending;
}

/** `{ databaseId: dir }` over all configs; one database must not have two migrations dirs. */
export function migrationsDirsByDatabase(configs) {
  const dirs = {};
  for (const config of configs) {
    for (const [databaseId, dir] of Object.entries(config.migrationsDirs)) {
      if (dirs[databaseId] !== undefined && dirs[databaseId] !== dir) {
        throw new Error(`database ${databaseId} has two migrations dirs: ${dirs[databaseId]} and ${dir}`);
      }
      dirs[databaseId] = dir;
    }
  }
  return dirs;
}
