// Control endpoints through which Node reads and steers the fakes (reached with
// `getWorker("fake-apis").fetch(CONTROL_ORIGIN + path)`; never recorded as a request).

import { addGithubFault, listAllIssues } from "./github.mjs";
import { programAnalytics } from "./cloudflare-analytics.mjs";
import { addCloudflareResponse, addFailure, listRequests, resetAll } from "./store.mjs";

export const CONTROL_ORIGIN = "http://fakes.control";

export async function handleControl({ request, url, db }) {
  const route = `${request.method} ${url.pathname}`;
  const params = url.searchParams;
  switch (route) {
    case "GET /requests":
      return Response.json({ requests: await listRequests(db, params.get("service")) });
    case "POST /failures": {
      const { service, status, count = 1, body = { message: "scripted failure" }, headers = {} } = await request.json();
      const text = typeof body === "string" ? body : JSON.stringify(body);
      const contentType = typeof body === "string" ? "text/plain; charset=utf-8" : "application/json";
      await addFailure(db, { service, status, count, body: text, headers: { "content-type": contentType, ...headers } });
      return new Response(null, { status: 204 });
    }
    case "POST /cloudflare/responses": {
      const { match = "", ...response } = await request.json();
      await addCloudflareResponse(db, match, response);
      return new Response(null, { status: 204 });
    }
    case "POST /github/faults": {
      const { fault, count = 1 } = await request.json();
      await addGithubFault(db, fault, count);
      return new Response(null, { status: 204 });
    }
    case "POST /cloudflare/analytics":
      await programAnalytics(db, await request.json());
      return new Response(null, { status: 204 });
    case "GET /github/issues":
      return Response.json({ issues: await listAllIssues(db, { owner: params.get("owner"), repo: params.get("repo") }) });
    case "POST /reset":
      await resetAll(db);
      return new Response(null, { status: 204 });
    default:
      return Response.json({ error: `no control route ${route}` }, { status: 404 });
  }
}
