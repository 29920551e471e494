// Fake Cloudflare API: GraphQL analytics and the REST envelope. Answers are programmed from Node
// (a `match` text chooses which request gets which answer); unprogrammed requests get an empty dataset
// or the API's "could not route" error.

import { answerAnalytics } from "./cloudflare-analytics.mjs";
import { handleCloudflareRest } from "./cloudflare-rest.mjs";
import { findCloudflareResponse } from "./store.mjs";

const GRAPHQL_PATH = "/client/v4/graphql";
const EMPTY_GRAPHQL_DATA = { viewer: { accounts: [], zones: [] } };

export async function handleCloudflare({ request, url, body, db }) {
  if (!request.headers.has("authorization")) {
    return envelope(400, { success: false, errors: [{ code: 9106, message: "Missing X-Auth-Key, X-Auth-Email or Authorization headers" }] });
  }
  if (url.pathname === GRAPHQL_PATH) return graphql(request, body, db);
  // REST answers are matched on "METHOD /path" (query string included).
  const programmed = await findCloudflareResponse(db, `${request.method} ${url.pathname}${url.search}`);
  if (programmed === null) {
    const emulated = await handleCloudflareRest({ request, url, body, db });
    if (emulated !== null) return emulated;
    const message = `Could not route to ${url.pathname}, perhaps your object identifier is invalid?`;
    return envelope(404, { success: false, errors: [{ code: 7003, message }] });
  }
  return envelope(200, { success: true, result: programmed.result ?? null });
}

async function graphql(request, body, db) {
  if (request.method !== "POST") return envelope(405, { success: false, errors: [{ code: 10405, message: "Method not allowed" }] });
  let parsed;
  try {
    parsed = JSON.parse(body);
  } catch {
    return Response.json({ data: null, errors: [{ message: "failed to parse the request body as JSON" }] }, { status: 400 });
  }
  const analytics = await answerAnalytics(parsed, db);
  if (analytics !== null) return analytics;
  // GraphQL answers are matched on the request body (the query text and variables).
  const programmed = await findCloudflareResponse(db, body);
  if (programmed === null) return Response.json({ data: EMPTY_GRAPHQL_DATA, errors: null });
  return Response.json({ data: programmed.data ?? null, errors: programmed.errors ?? null });
}

function envelope(status, { success, errors = [], result = null }) {
  return Response.json({ success, errors, messages: [], result }, { status });
}
