// Fake Cloudflare Access: each team's signing keys at `https://<team>.cloudflareaccess.com/cdn-cgi/access/certs`,
// in Access's own document shape, as programmed from Node (a team with none programmed has no keys).

import { findCloudflareResponse } from "./store.mjs";

const CERTS_PATH = "/cdn-cgi/access/certs";

/** The `match` under which a team's certs document is stored. */
export const certsMatch = (host) => `access-certs ${host}`;

export async function handleAccess({ request, url, db }) {
  if (request.method !== "GET" || url.pathname !== CERTS_PATH) {
    return Response.json({ success: false, errors: [{ message: "not found" }] }, { status: 404 });
  }
  const programmed = await findCloudflareResponse(db, certsMatch(url.host));
  return Response.json(programmed?.result ?? { keys: [], public_cert: {}, public_certs: [] });
}
