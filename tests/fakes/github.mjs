// Fake GitHub REST API: the issue, comment and label endpoints the error collector uses, with GitHub's
// own refusals (403 without a User-Agent, 401 without credentials, 422 on invalid input).

const DOCS_URL = "https://docs.github.com/rest";
// GitHub's answer to a request without a User-Agent header (Workers' fetch sends none by default).
const MISSING_USER_AGENT_MESSAGE =
  "Request forbidden by administrative rules. Please make sure your request has a User-Agent header " +
  "(https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). " +
  "Check https://developer.github.com for other possible causes.\n";
const BOT_LOGIN = "platform-bot";
const DEFAULT_LABEL_COLOR = "ededed";

const ROUTES = [
  ["GET", /^\/user$/, getUser],
  ["GET", /^\/rate_limit$/, getRateLimit],
  ["GET", /^\/repos\/([^/]+)\/([^/]+)\/issues$/, listIssues],
  ["POST", /^\/repos\/([^/]+)\/([^/]+)\/issues$/, createIssue],
  ["GET", /^\/repos\/([^/]+)\/([^/]+)\/issues\/(\d+)$/, getIssue],
  ["PATCH", /^\/repos\/([^/]+)\/([^/]+)\/issues\/(\d+)$/, updateIssue],
  ["POST", /^\/repos\/([^/]+)\/([^/]+)\/issues\/(\d+)\/comments$/, createComment],
  ["POST", /^\/repos\/([^/]+)\/([^/]+)\/issues\/(\d+)\/labels$/, addIssueLabels],
  ["DELETE", /^\/repos\/([^/]+)\/([^/]+)\/issues\/(\d+)\/labels\/([^/]+)$/, removeIssueLabel],
  ["POST", /^\/repos\/([^/]+)\/([^/]+)\/labels$/, createLabel],
];

// Ways GitHub is seen to fail, scripted from Node by name (fakes.githubFault): each applies to the
// next request it matches. `after`: GitHub does the work, then the answer is replaced (the issue
// exists, the caller cannot know); `delayMs`: no answer for that long.
export const GITHUB_FAULTS = {
  // The issue is created, but a proxy answers 502 (the answer is lost).
  "lost-create": { method: "POST", path: /\/issues$/, after: true, status: 502, body: "<html><h1>502 Bad Gateway</h1></html>", contentType: "text/html" },
  // The issue is created and GitHub answers 201 with a body cut short.
  "unreadable-create": { method: "POST", path: /\/issues$/, after: true, status: 201, body: '{"id": 1, "number": ', contentType: "application/json; charset=utf-8" },
  // A secondary rate limit with a Retry-After of 10^12 seconds.
  "huge-retry-after": {
    method: "POST", path: /\/issues$/, status: 403, contentType: "application/json; charset=utf-8",
    body: JSON.stringify({ message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.", documentation_url: DOCS_URL }),
    headers: { "retry-after": "1000000000000" },
  },
  // GitHub takes 30 s to answer anything.
  hang: { delayMs: 30_000 },
};

export async function addGithubFault(db, name, count) {
  if (GITHUB_FAULTS[name] === undefined) throw new Error(`no GitHub fault ${name} (known: ${Object.keys(GITHUB_FAULTS)})`);
  await db.prepare("INSERT INTO github_faults (name, remaining) VALUES (?, ?)").bind(name, count).run();
}

async function takeGithubFault(db, request, url) {
  const { results } = await db.prepare("SELECT * FROM github_faults WHERE remaining > 0 ORDER BY seq").all();
  const row = results.find(({ name }) => {
    const fault = GITHUB_FAULTS[name];
    return (fault.method === undefined || fault.method === request.method) && (fault.path === undefined || fault.path.test(url.pathname));
  });
  if (row === undefined) return null;
  await db.prepare("UPDATE github_faults SET remaining = remaining - 1 WHERE seq = ?").bind(row.seq).run();
  return GITHUB_FAULTS[row.name];
}

function faultAnswer(fault) {
  return new Response(fault.body, { status: fault.status, headers: { "content-type": fault.contentType, ...fault.headers } });
}

export async function handleGithub({ request, url, body, db }) {
  const fault = await takeGithubFault(db, request, url);
  if (fault?.delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
  if (fault?.status !== undefined && !fault.after) return faultAnswer(fault);
  const answer = await answerGithub({ request, url, body, db });
  return fault?.after ? faultAnswer(fault) : answer;
}

async function answerGithub({ request, url, body, db }) {
  if (!request.headers.get("user-agent")) {
    return new Response(MISSING_USER_AGENT_MESSAGE, { status: 403, headers: { "content-type": "text/plain; charset=utf-8" } });
  }
  if (!request.headers.has("authorization")) {
    return githubJson(401, { message: "Requires authentication", documentation_url: DOCS_URL, status: "401" });
  }
  for (const [method, pattern, handler] of ROUTES) {
    const match = pattern.exec(url.pathname);
    if (match === null || method !== request.method) continue;
    let input = null;
    if (body !== "") {
      try {
        input = JSON.parse(body);
      } catch {
        return githubJson(400, { message: "Problems parsing JSON", documentation_url: DOCS_URL, status: "400" });
      }
    }
    const [owner, repo, number, name] = match.slice(1);
    return handler({ db, url, input, owner, repo, number: Number(number), name: name && decodeURIComponent(name) });
  }
  return notFound();
}

/** Every stored issue as GitHub renders it, for Node-side assertions. */
export async function listAllIssues(db, { owner, repo }) {
  const { results } = await db
    .prepare("SELECT * FROM github_issues WHERE (?1 IS NULL OR owner = ?1) AND (?2 IS NULL OR repo = ?2) ORDER BY id")
    .bind(owner, repo)
    .all();
  return Promise.all(results.map((row) => renderIssue(db, row)));
}

function getUser() {
  return githubJson(200, { login: BOT_LOGIN, id: 1, type: "Bot", html_url: `https://github.com/${BOT_LOGIN}` });
}

function getRateLimit() {
  const reset = Math.floor(Date.now() / 1000) + 3600;
  const core = { limit: 5000, used: 1, remaining: 4999, reset };
  return githubJson(200, { resources: { core, search: { limit: 30, used: 0, remaining: 30, reset } }, rate: core });
}

async function listIssues({ db, url, owner, repo }) {
  const state = url.searchParams.get("state") ?? "open";
  const wanted = url.searchParams.get("labels")?.split(",").filter(Boolean) ?? [];
  const { results } = await db
    .prepare("SELECT * FROM github_issues WHERE owner = ? AND repo = ? AND (? = 'all' OR state = ?) ORDER BY number DESC")
    .bind(owner, repo, state, state)
    .all();
  const matching = results.filter((row) => wanted.every((label) => JSON.parse(row.labels).includes(label)));
  return githubJson(200, await Promise.all(matching.map((row) => renderIssue(db, row))));
}

async function createIssue({ db, input, owner, repo }) {
  if (typeof input?.title !== "string" || input.title === "") {
    return validationFailed("Issue", "missing_field", "title");
  }
  const labels = labelNames(input.labels);
  await ensureLabels(db, owner, repo, labels);
  const now = githubTime();
  const { max } = await db
    .prepare("SELECT COALESCE(MAX(number), 0) AS max FROM github_issues WHERE owner = ? AND repo = ?")
    .bind(owner, repo)
    .first();
  await db
    .prepare(
      `INSERT INTO github_issues (owner, repo, number, title, body, state, labels, comments, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, 'open', ?, 0, ?, ?)`,
    )
    .bind(owner, repo, max + 1, input.title, input.body ?? null, JSON.stringify(labels), now, now)
    .run();
  return githubJson(201, await renderIssue(db, await findIssue(db, owner, repo, max + 1)));
}

async function getIssue({ db, owner, repo, number }) {
  const row = await findIssue(db, owner, repo, number);
  return row === null ? notFound() : githubJson(200, await renderIssue(db, row));
}

async function updateIssue({ db, input, owner, repo, number }) {
  const row = await findIssue(db, owner, repo, number);
  if (row === null) return notFound();
  const changes = input ?? {};
  if (changes.state !== undefined && changes.state !== "open" && changes.state !== "closed") {
    return validationFailed("Issue", "invalid", "state");
  }
  const now = githubTime();
  const state = changes.state ?? row.state;
  const reopened = row.state === "closed" && state === "open";
  const closed = row.state === "open" && state === "closed";
  const labels = changes.labels === undefined ? JSON.parse(row.labels) : labelNames(changes.labels);
  await ensureLabels(db, owner, repo, labels);
  await db
    .prepare(
      `UPDATE github_issues SET title = ?, body = ?, state = ?, state_reason = ?, labels = ?, updated_at = ?,
       closed_at = ? WHERE id = ?`,
    )
    .bind(
      changes.title ?? row.title,
      changes.body ?? row.body,
      state,
      changes.state_reason ?? (reopened ? "reopened" : closed ? "completed" : row.state_reason),
      JSON.stringify(labels),
      now,
      state === "closed" ? (closed ? now : row.closed_at) : null,
      row.id,
    )
    .run();
  return githubJson(200, await renderIssue(db, await findIssue(db, owner, repo, number)));
}

async function createComment({ db, input, owner, repo, number }) {
  const row = await findIssue(db, owner, repo, number);
  if (row === null) return notFound();
  if (typeof input?.body !== "string" || input.body === "") return validationFailed("IssueComment", "missing_field", "body");
  const now = githubTime();
  const { meta } = await db
    .prepare("INSERT INTO github_comments (issue_id, body, created_at) VALUES (?, ?, ?)")
    .bind(row.id, input.body, now)
    .run();
  await db.prepare("UPDATE github_issues SET comments = comments + 1, updated_at = ? WHERE id = ?").bind(now, row.id).run();
  const id = meta.last_row_id;
  return githubJson(201, {
    id,
    html_url: `${issueHtmlUrl(owner, repo, number)}#issuecomment-${id}`,
    body: input.body,
    user: { login: BOT_LOGIN, type: "Bot" },
    created_at: now,
    updated_at: now,
  });
}

async function addIssueLabels({ db, input, owner, repo, number }) {
  const row = await findIssue(db, owner, repo, number);
  if (row === null) return notFound();
  const added = labelNames(Array.isArray(input) ? input : input?.labels);
  const labels = [...new Set([...JSON.parse(row.labels), ...added])];
  await ensureLabels(db, owner, repo, labels);
  await db
    .prepare("UPDATE github_issues SET labels = ?, updated_at = ? WHERE id = ?")
    .bind(JSON.stringify(labels), githubTime(), row.id)
    .run();
  return githubJson(200, await renderLabels(db, owner, repo, labels));
}

// GitHub answers with the labels left on the issue, or 404 when the issue does not carry the label.
async function removeIssueLabel({ db, owner, repo, number, name }) {
  const row = await findIssue(db, owner, repo, number);
  if (row === null) return notFound();
  const labels = JSON.parse(row.labels);
  if (!labels.includes(name)) {
    return githubJson(404, { message: "Label does not exist", documentation_url: DOCS_URL, status: "404" });
  }
  const left = labels.filter((label) => label !== name);
  await db
    .prepare("UPDATE github_issues SET labels = ?, updated_at = ? WHERE id = ?")
    .bind(JSON.stringify(left), githubTime(), row.id)
    .run();
  return githubJson(200, await renderLabels(db, owner, repo, left));
}

async function createLabel({ db, input, owner, repo }) {
  if (typeof input?.name !== "string" || input.name === "") return validationFailed("Label", "missing_field", "name");
  const { meta } = await db
    .prepare("INSERT OR IGNORE INTO github_labels (owner, repo, name, color, description) VALUES (?, ?, ?, ?, ?)")
    .bind(owner, repo, input.name, input.color ?? DEFAULT_LABEL_COLOR, input.description ?? null)
    .run();
  if (meta.changes === 0) return validationFailed("Label", "already_exists", "name");
  const [label] = await renderLabels(db, owner, repo, [input.name]);
  return githubJson(201, label);
}

function findIssue(db, owner, repo, number) {
  return db
    .prepare("SELECT * FROM github_issues WHERE owner = ? AND repo = ? AND number = ?")
    .bind(owner, repo, number)
    .first();
}

async function renderIssue(db, row) {
  return {
    id: row.id,
    number: row.number,
    url: `https://api.github.com/repos/${row.owner}/${row.repo}/issues/${row.number}`,
    html_url: issueHtmlUrl(row.owner, row.repo, row.number),
    title: row.title,
    body: row.body,
    state: row.state,
    state_reason: row.state_reason,
    labels: await renderLabels(db, row.owner, row.repo, JSON.parse(row.labels)),
    comments: row.comments,
    user: { login: BOT_LOGIN, type: "Bot" },
    assignees: [],
    locked: false,
    created_at: row.created_at,
    updated_at: row.updated_at,
    closed_at: row.closed_at,
  };
}

async function renderLabels(db, owner, repo, names) {
  const { results } = await db.prepare("SELECT * FROM github_labels WHERE owner = ? AND repo = ?").bind(owner, repo).all();
  return names.map((name) => {
    const label = results.find((row) => row.name === name);
    return { id: label.id, name, color: label.color, default: false, description: label.description };
  });
}

// GitHub creates the labels an issue names when they do not exist yet.
async function ensureLabels(db, owner, repo, names) {
  if (names.length === 0) return;
  await db.batch(
    names.map((name) =>
      db
        .prepare("INSERT OR IGNORE INTO github_labels (owner, repo, name, color) VALUES (?, ?, ?, ?)")
        .bind(owner, repo, name, DEFAULT_LABEL_COLOR),
    ),
  );
}

// Labels may be given as names or as label objects.
function labelNames(labels) {
  return (labels ?? []).map((label) => (typeof label === "string" ? label : label.name));
}

function issueHtmlUrl(owner, repo, number) {
  return `https://github.com/${owner}/${repo}/issues/${number}`;
}

// GitHub timestamps have whole seconds.
function githubTime() {
  return new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
}

function validationFailed(resource, code, field) {
  return githubJson(422, { message: "Validation Failed", errors: [{ resource, code, field }], documentation_url: DOCS_URL, status: "422" });
}

function notFound() {
  return githubJson(404, { message: "Not Found", documentation_url: DOCS_URL, status: "404" });
}

function githubJson(status, body) {
  return Response.json(body, { status, headers: { "content-type": "application/json; charset=utf-8" } });
}
