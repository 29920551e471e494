// Fake Cloudflare GraphQL Analytics API, account scope: answers `{ data, errors }` in the real shape
// (`viewer.accounts[0].<alias>`) for one dataset node per request, from groups Node programs per
// account and node. Each programmed group template is answered once per hour of the requested range
// (or once per day for the daily storage nodes), with the time dimension filled in. Failures can be
// programmed per node: an HTTP status (429 with Retry-After, 5xx), GraphQL errors without data, or a
// field error with partial data. Filters are checked as the real schema checks them: the `date_*`
// only nodes refuse `datetime_*` and an unknown node is an unknown field of `account`.

export const ANALYTICS_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS analytics_programs (
    seq INTEGER PRIMARY KEY, account TEXT NOT NULL, node TEXT NOT NULL, kind TEXT NOT NULL,
    payload TEXT NOT NULL, remaining INTEGER NOT NULL)`,
];

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
// Nodes whose filter is `date_*`; the value says whether they group by `date` (daily levels).
const DATE_NODES = { d1AnalyticsAdaptiveGroups: false, kvStorageAdaptiveGroups: true, d1StorageAdaptiveGroups: true };
const KNOWN_NODES = new Set([
  ...Object.keys(DATE_NODES),
  "workersInvocationsAdaptive", "kvOperationsAdaptiveGroups", "r2OperationsAdaptiveGroups", "r2StorageAdaptiveGroups",
  "durableObjectsInvocationsAdaptiveGroups", "durableObjectsPeriodicGroups", "durableObjectsStorageGroups",
  "durableObjectsSqlStorageGroups", "queueMessageOperationsAdaptiveGroups", "aiInferenceAdaptiveGroups",
  "vectorizeV2QueriesAdaptiveGroups", "vectorizeV2StorageAdaptiveGroups", "workersAnalyticsEngineAdaptiveGroups",
  "workflowsAdaptiveGroups", "hyperdriveQueriesAdaptiveGroups", "imagesRequestsAdaptiveGroups",
]);

/** Programs `node` of `account`: `{ groups }` (templates, replacing earlier ones), or a failure `{ status, headers, body }`,
 * `{ errors }` (no data), `{ fieldError }` (partial data) or `{ delayMs }` (no answer that long), used up after `count`
 * requests (default: forever). */
export async function programAnalytics(db, { account, node, count = -1, ...program }) {
  const kind = program.groups !== undefined ? "groups" : "failure";
  await db
    .prepare("INSERT INTO analytics_programs (account, node, kind, payload, remaining) VALUES (?, ?, ?, ?, ?)")
    .bind(account, node, kind, JSON.stringify(program), count)
    .run();
}

/** The answer to an account-scoped analytics query, or null when `parsed` is not one (left to the generic fake). */
export async function answerAnalytics(parsed, db) {
  const query = typeof parsed?.query === "string" ? parsed.query : "";
  if (!query.includes("accountTag")) return null;
  const variables = parsed.variables ?? {};
  const alias = /(\w+):\s*(\w+)\(limit:\s*(\d+)/.exec(query);
  if (alias === null) return graphqlError(400, "the fake analytics API expects `alias: node(limit: N, filter: {...})`");
  const [, name, node, limitText] = alias;
  if (!KNOWN_NODES.has(node)) {
    return graphqlError(200, `unknown field "${node}" on type "account"`, ["viewer", "accounts", 0, name]);
  }
  const dateOnly = node in DATE_NODES;
  if (dateOnly && query.includes("datetime_geq")) {
    return graphqlError(200, `unknown arg "datetime_geq" for "${node}": filter on date_geq and date_leq`, ["viewer", "accounts", 0, name]);
  }
  const account = variables.account;
  const programs = await programsOf(db, account, node);
  const known = await db.prepare("SELECT 1 FROM analytics_programs WHERE account = ? LIMIT 1").bind(account).first();
  if (known === null) return Response.json({ data: { viewer: { accounts: [] } }, errors: null });

  const failure = programs.find((p) => p.kind === "failure");
  if (failure !== undefined) {
    await useUp(db, failure);
    const program = failure.program;
    // An API that hangs: no answer for that long, then a 504 (the caller has given up by then).
    if (program.delayMs !== undefined) {
      await new Promise((resolve) => setTimeout(resolve, program.delayMs));
      return graphqlError(504, "gateway timeout");
    }
    if (program.status !== undefined) {
      const body = typeof program.body === "string" ? program.body : JSON.stringify(program.body ?? { errors: [{ message: "scripted failure" }] });
      return new Response(body, { status: program.status, headers: { "content-type": "application/json", ...program.headers } });
    }
    if (program.errors !== undefined) return Response.json({ data: null, errors: program.errors });
    return Response.json({
      data: { viewer: { accounts: [{ [name]: null }] } },
      errors: [{ message: program.fieldError, path: ["viewer", "accounts", 0, name], extensions: { code: "INTERNAL_SERVER_ERROR" } }],
    });
  }
  // The latest groups program of the node is its data.
  const templates = programs.find((p) => p.kind === "groups")?.program.groups ?? [];
  const groups = expand(templates, dateOnly ? DATE_NODES[node] : false, variables, dateOnly).slice(0, Number(limitText));
  return Response.json({ data: { viewer: { accounts: [{ [name]: groups }] } }, errors: null });
}

async function programsOf(db, account, node) {
  const { results } = await db
    .prepare("SELECT * FROM analytics_programs WHERE account = ? AND node = ? AND remaining != 0 ORDER BY seq DESC")
    .bind(account, node)
    .all();
  return results.map((row) => ({ seq: row.seq, kind: row.kind, remaining: row.remaining, program: JSON.parse(row.payload) }));
}

async function useUp(db, program) {
  if (program.remaining > 0) await db.prepare("UPDATE analytics_programs SET remaining = remaining - 1 WHERE seq = ?").bind(program.seq).run();
}

// Each template once per hour (or day) of the range: `{ dimensions, sum, max, ... }` plus optional
// `hours: [ISO]` restricting it to those hours.
function expand(templates, daily, variables, dateOnly) {
  const from = Date.parse(dateOnly ? `${variables.from}T00:00:00Z` : variables.from);
  const to = dateOnly ? Date.parse(`${variables.to}T00:00:00Z`) + DAY_MS : Date.parse(variables.to);
  const step = daily ? DAY_MS : HOUR_MS;
  const groups = [];
  for (let at = from; at < to; at += step) {
    const when = daily ? new Date(at).toISOString().slice(0, 10) : new Date(at).toISOString().replace(".000Z", "Z");
    for (const { hours, ...template } of templates) {
      if (hours !== undefined && !hours.some((hour) => Date.parse(hour) === at)) continue;
      groups.push({ ...template, dimensions: { ...template.dimensions, [daily ? "date" : "datetimeHour"]: when } });
    }
  }
  return groups;
}

function graphqlError(status, message, path) {
  return Response.json({ data: null, errors: [{ message, ...(path === undefined ? {} : { path }) }] }, { status });
}
