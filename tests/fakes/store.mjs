// The fake APIs' state, kept in their own D1 database so it survives isolate restarts and Node can
// inspect it: every request received, scripted failures, programmed Cloudflare answers, GitHub issues.

import { ANALYTICS_SCHEMA } from "./cloudflare-analytics.mjs";

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS requests (
    seq INTEGER PRIMARY KEY, service TEXT NOT NULL, method TEXT NOT NULL, url TEXT NOT NULL,
    headers TEXT NOT NULL, body TEXT NOT NULL, at INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS failures (
    seq INTEGER PRIMARY KEY, service TEXT NOT NULL, status INTEGER NOT NULL, headers TEXT NOT NULL,
    body TEXT NOT NULL, remaining INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS github_faults (
    seq INTEGER PRIMARY KEY, name TEXT NOT NULL, remaining INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS cloudflare_responses (
    seq INTEGER PRIMARY KEY, match TEXT NOT NULL, response TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS github_issues (
    id INTEGER PRIMARY KEY, owner TEXT NOT NULL, repo TEXT NOT NULL, number INTEGER NOT NULL,
    title TEXT NOT NULL, body TEXT, state TEXT NOT NULL, state_reason TEXT, labels TEXT NOT NULL,
    comments INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, closed_at TEXT,
    UNIQUE (owner, repo, number))`,
  `CREATE TABLE IF NOT EXISTS github_comments (
    id INTEGER PRIMARY KEY, issue_id INTEGER NOT NULL, body TEXT NOT NULL, created_at TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS github_labels (
    id INTEGER PRIMARY KEY, owner TEXT NOT NULL, repo TEXT NOT NULL, name TEXT NOT NULL,
    color TEXT NOT NULL, description TEXT, UNIQUE (owner, repo, name))`,
  ...ANALYTICS_SCHEMA,
];
const TABLES = SCHEMA.map((sql) => /CREATE TABLE IF NOT EXISTS (\w+)/.exec(sql)[1]);

/** Kept with a scripted failure's headers: how long to wait before answering (never sent). */
export const DELAY_HEADER = "x-fake-delay-ms";

let schemaReady;

export function ensureSchema(db) {
  schemaReady ??= db.batch(SCHEMA.map((sql) => db.prepare(sql))).catch((error) => {
    schemaReady = undefined;
    throw error;
  });
  return schemaReady;
}

export async function recordRequest(db, { service, request, body }) {
  await db
    .prepare("INSERT INTO requests (service, method, url, headers, body, at) VALUES (?, ?, ?, ?, ?, ?)")
    .bind(service, request.method, request.url, JSON.stringify(Object.fromEntries(request.headers)), body, Date.now())
    .run();
}

export async function listRequests(db, service) {
  const query = service === null
    ? db.prepare("SELECT * FROM requests ORDER BY seq")
    : db.prepare("SELECT * FROM requests WHERE service = ? ORDER BY seq").bind(service);
  const { results } = await query.all();
  return results.map(({ seq, headers, ...row }) => ({ ...row, headers: JSON.parse(headers) }));
}

export async function addFailure(db, { service, status, count, body, headers }) {
  await db
    .prepare("INSERT INTO failures (service, status, headers, body, remaining) VALUES (?, ?, ?, ?, ?)")
    .bind(service, status, JSON.stringify(headers), body, count)
    .run();
}

/** The oldest scripted failure still pending for `service`, used up by one; null when there is none. */
export async function takeFailure(db, service) {
  const failure = await db
    .prepare("SELECT * FROM failures WHERE service = ? AND remaining > 0 ORDER BY seq LIMIT 1")
    .bind(service)
    .first();
  if (failure === null) return null;
  await db.prepare("UPDATE failures SET remaining = remaining - 1 WHERE seq = ?").bind(failure.seq).run();
  return { status: failure.status, headers: JSON.parse(failure.headers), body: failure.body };
}

export async function addCloudflareResponse(db, match, response) {
  await db
    .prepare("INSERT INTO cloudflare_responses (match, response) VALUES (?, ?)")
    .bind(match, JSON.stringify(response))
    .run();
}

/** The most recently programmed response whose `match` occurs in `text`; null when none matches. */
export async function findCloudflareResponse(db, text) {
  const { results } = await db.prepare("SELECT match, response FROM cloudflare_responses ORDER BY seq DESC").all();
  const found = results.find((row) => text.includes(row.match));
  return found === undefined ? null : JSON.parse(found.response);
}

export async function resetAll(db) {
  await db.batch(TABLES.map((table) => db.prepare(`DELETE FROM ${table}`)));
}
