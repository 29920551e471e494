// Node's side of the fake APIs: reads what they recorded and scripts their answers through the control
// host of the fake-apis worker.

import { certsMatch } from "../fakes/access.mjs";
import { CONTROL_ORIGIN } from "../fakes/control.mjs";

export function createFakesClient(getFakeWorker) {
  async function control(method, path, body) {
    const worker = await getFakeWorker();
    const response = await worker.fetch(`${CONTROL_ORIGIN}${path}`, {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
    });
    if (!response.ok) throw new Error(`fake-apis control ${method} ${path}: ${response.status} ${await response.text()}`);
    return response.status === 204 ? undefined : response.json();
  }

  return {
    /** Requests received, oldest first: `{ service, method, url, headers, body, at }`; `service` is github, slack, cloudflare or the host. */
    async requests({ service } = {}) {
      const query = service === undefined ? "" : `?service=${encodeURIComponent(service)}`;
      return (await control("GET", `/requests${query}`)).requests;
    },
    /**
     * The next `count` requests to `service` get `status` (and `body`, `headers`) instead of the fake's answer,
     * after `delayMs` when it is given (a slow answer).
     */
    failNext(service, status, { count = 1, body, headers = {}, delayMs } = {}) {
      const delay = delayMs === undefined ? {} : { "x-fake-delay-ms": String(delayMs) };
      return control("POST", "/failures", { service, status, count, body, headers: { ...headers, ...delay } });
    },
    /**
     * Programs the Cloudflare API fake. GraphQL requests whose body contains `match` get `{ data, errors }`;
     * REST requests whose "METHOD /path?query" contains `match` get the envelope with `result`. The latest wins.
     */
    setCloudflareResponse({ match = "", data, errors, result }) {
      return control("POST", "/cloudflare/responses", { match, data, errors, result });
    },
    /**
     * Programs the GraphQL Analytics fake (tests/fakes/cloudflare-analytics.mjs) for `account`'s `node`: `{ groups }`
     * answered once per hour (or day) asked for, or a failure `{ status, headers, body }`, `{ errors }` or `{ fieldError }`
     * for the next `count` requests (default: every one). An account never programmed is invisible to the token.
     */
    programAnalytics(account, node, program) {
      return control("POST", "/cloudflare/analytics", { account, node, ...program });
    },
    /** Programs the Cloudflare Access team at `host` (`<team>.cloudflareaccess.com`) to publish `certs` (`{ keys: [jwk] }`). */
    setAccessCerts(host, certs) {
      return control("POST", "/cloudflare/responses", { match: certsMatch(host), result: certs });
    },
    /** The next `count` GitHub requests that `fault` matches fail that way (GITHUB_FAULTS in fakes/github.mjs). */
    githubFault(fault, { count = 1 } = {}) {
      return control("POST", "/github/faults", { fault, count });
    },
    /** GitHub issues as the fake stores them (GitHub's JSON), optionally for one owner/repo. */
    async issues({ owner, repo } = {}) {
      const query = new URLSearchParams(Object.entries({ owner, repo }).filter(([, value]) => value !== undefined));
      return (await control("GET", `/github/issues?${query}`)).issues;
    },
    /** Forgets recorded requests, scripted failures, programmed answers and GitHub state. */
    reset() {
      return control("POST", "/reset");
    },
  };
}
