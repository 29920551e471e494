// Fake third-party APIs, run as a worker inside the platform's Miniflare: every platform worker's
// outbound fetch lands here. Dispatches on the URL's host, records every request, and replays failures
// scripted from Node before answering like the real service.

import { handleAccess } from "./access.mjs";
import { handleCloudflare } from "./cloudflare.mjs";
import { CONTROL_ORIGIN, handleControl } from "./control.mjs";
import { handleGithub } from "./github.mjs";
import { handleSlack } from "./slack.mjs";
import { DELAY_HEADER, ensureSchema, recordRequest, takeFailure } from "./store.mjs";

const SERVICES_BY_HOST = {
  "api.github.com": { service: "github", handle: handleGithub },
  "hooks.slack.com": { service: "slack", handle: handleSlack },
  "api.cloudflare.com": { service: "cloudflare", handle: handleCloudflare },
};
// Every Access team has its own host.
const ACCESS = { service: "access", handle: handleAccess };
const ACCESS_HOST_SUFFIX = ".cloudflareaccess.com";
const CONTROL_HOST = new URL(CONTROL_ORIGIN).host;

export default {
  async fetch(request, env) {
    const db = env.FAKES_DB;
    await ensureSchema(db);
    const url = new URL(request.url);
    if (url.host === CONTROL_HOST) return handleControl({ request, url, db });

    const known = SERVICES_BY_HOST[url.host] ?? (url.host.endsWith(ACCESS_HOST_SUFFIX) ? ACCESS : undefined);
    // Unknown hosts are recorded under their own name, so a test can see an unexpected call.
    const service = known?.service ?? url.host;
    const body = await request.text();
    await recordRequest(db, { service, request, body });

    const failure = await takeFailure(db, service);
    if (failure !== null) {
      // A scripted answer may also be slow (a service that hangs, then answers).
      const { [DELAY_HEADER]: delayMs, ...headers } = failure.headers;
      if (delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, Number(delayMs)));
      return new Response(failure.body, { status: failure.status, headers });
    }
    if (known === undefined) return Response.json({ error: `fake-apis has no fake for ${url.host}` }, { status: 502 });
    return known.handle({ request, url, body, db });
  },
};
