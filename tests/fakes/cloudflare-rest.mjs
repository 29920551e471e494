// Stateful emulation of the Cloudflare REST API calls `platform init` makes: token verification,
// the account's subscriptions and workers.dev subdomain, and list/create of KV namespaces, D1
// databases and queues, each in the API's envelope and with its errors. Resources are kept per
// account in the fakes' D1, so a second `init` finds what the first created.
//
// Tokens are the API's: a token that starts with `invalid` is refused (401, code 1000), one that
// starts with `readonly` may read but not create (403, code 10000). Answers programmed with
// `setCloudflareResponse` still win (e.g. a Workers Paid subscription).

const SCHEMA = `CREATE TABLE IF NOT EXISTS cloudflare_resources (
  kind TEXT NOT NULL, account TEXT NOT NULL, name TEXT NOT NULL, id TEXT NOT NULL, created_at INTEGER NOT NULL,
  PRIMARY KEY (kind, account, name))`;

// kind: [collection path under /accounts/{id}, the name field of a create, how a resource reads]
const KINDS = {
  kv: ["storage/kv/namespaces", "title", (row) => ({ id: row.id, title: row.name, supports_url_encoding: true })],
  d1: ["d1/database", "name", (row) => ({ uuid: row.id, name: row.name, version: "production", created_at: new Date(row.created_at).toISOString() })],
  queues: ["queues", "queue_name", (row) => ({ queue_id: row.id, queue_name: row.name, created_on: new Date(row.created_at).toISOString() })],
};

function envelope(status, result, errors = []) {
  return Response.json({ success: errors.length === 0, errors, messages: [], result }, { status });
}

const refused = (status, code, message) => envelope(status, null, [{ code, message }]);

/** The answer to a REST request this emulation knows, or null to let the caller answer. */
export async function handleCloudflareRest({ request, url, body, db }) {
  const path = url.pathname.replace(/^\/client\/v4/, "");
  const token = (request.headers.get("authorization") ?? "").replace(/^Bearer\s+/i, "");
  if (token.startsWith("invalid")) return refused(401, 1000, "Invalid API Token");
  if (path === "/user/tokens/verify") return envelope(200, { id: "fake-token", status: "active" });

  const account = /^\/accounts\/([0-9a-zA-Z-]+)(\/.*)?$/.exec(path);
  if (account === null) return null;
  const [, accountId, rest = ""] = account;
  if (rest === "/subscriptions") return envelope(200, []);
  if (rest === "/workers/subdomain") return envelope(200, { subdomain: `${accountId.slice(0, 8)}-fake` });

  const kind = Object.keys(KINDS).find((k) => rest === `/${KINDS[k][0]}`);
  if (kind === undefined) return null;
  const [, nameField, view] = KINDS[kind];
  await db.prepare(SCHEMA).run();
  if (request.method === "GET") {
    const { results } = await db
      .prepare("SELECT * FROM cloudflare_resources WHERE kind = ? AND account = ? ORDER BY created_at, name")
      .bind(kind, accountId)
      .all();
    const wanted = kind === "d1" ? url.searchParams.get("name") : null;
    const rows = results.filter((row) => wanted === null || row.name === wanted);
    const page = Number(url.searchParams.get("page") ?? 1);
    const perPage = Number(url.searchParams.get("per_page") ?? 20);
    const shown = rows.slice((page - 1) * perPage, page * perPage).map(view);
    return Response.json({
      success: true, errors: [], messages: [], result: shown,
      result_info: { page, per_page: perPage, count: shown.length, total_count: rows.length },
    });
  }
  if (request.method !== "POST") return refused(405, 10405, "Method not allowed");
  if (token.startsWith("readonly")) return refused(403, 10000, "Authentication error");
  let name;
  try {
    name = JSON.parse(body)[nameField];
  } catch {
    return refused(400, 10026, "could not parse the request body");
  }
  if (typeof name !== "string" || name === "") return refused(400, 10026, `${nameField} is required`);
  const existing = await db
    .prepare("SELECT 1 FROM cloudflare_resources WHERE kind = ? AND account = ? AND name = ?")
    .bind(kind, accountId, name)
    .first();
  if (existing !== null) return refused(409, 10014, `a resource named ${name} already exists`);
  const row = { kind, account: accountId, name, id: crypto.randomUUID().replaceAll("-", ""), created_at: Date.now() };
  await db
    .prepare("INSERT INTO cloudflare_resources (kind, account, name, id, created_at) VALUES (?, ?, ?, ?, ?)")
    .bind(row.kind, row.account, row.name, row.id, row.created_at)
    .run();
  return envelope(200, view(row));
}
