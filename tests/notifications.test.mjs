// notifications end to end: people identified by Cloudflare Access (JWTs signed with a key this test makes,
// published by the fake Access team) or by personal tokens; notifications from the real platform-usage
// through the shared outbox and the NOTIFICATIONS binding, and from producers calling the route directly.

import assert from "node:assert/strict";
import { generateKeyPairSync, sign } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { featureStatusKey } from "./consumer/keys.mjs";
import { featureBudgetKey } from "./harness/platform-keys.mjs";
import { startPlatform } from "./harness/platform.mjs";

const INBOX = "platform-notifications";
const USAGE = "platform-usage";
const NOTIFY_TOKEN = "notify-token-for-tests";
const WEBHOOK = "https://hooks.slack.com/services/T000/B000/inbox-tests";
const TEAM = "acme.cloudflareaccess.com";
const AUD = "inbox-app-aud";
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

const base64url = (data) => Buffer.from(data).toString("base64url");

/** An RSA key pair of the Access team, and JWTs signed with it. */
function accessKey(kid) {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = { ...publicKey.export({ format: "jwk" }), kid, alg: "RS256", use: "sig" };
  const jwt = (claims, header = {}) => {
    const head = base64url(JSON.stringify({ alg: "RS256", kid, typ: "JWT", ...header }));
    const body = base64url(JSON.stringify(claims));
    const signature = sign("RSA-SHA256", Buffer.from(`${head}.${body}`), privateKey);
    return `${head}.${body}.${base64url(signature)}`;
  };
  return { jwk, jwt };
}

describe("notifications", () => {
  let platform;
  const teamKey = accessKey("team-key-1");
  const strangerKey = accessKey("stranger-key");
  const tokens = {};

  before(async () => {
    platform = await startPlatform({
      secrets: { NOTIFY_TOKEN, SLACK_WEBHOOK_URL: WEBHOOK, ACCESS_TEAM_DOMAIN: TEAM, ACCESS_AUD: AUD },
      queueBatchTimeout: 0,
    });
    await platform.fakes.setAccessCerts(TEAM, { keys: [teamKey.jwk], public_cert: { kid: teamKey.jwk.kid, cert: "-" }, public_certs: [] });
    for (const [id, role] of [["ann", "operator"], ["bob", "developer"], ["carl", "operator"], ["dave", "developer"], ["erin", "developer"]]) {
      assert.equal((await admin("POST", "/users", { id, role, email: `${id}@example.com` })).status, 201);
      const issued = await admin("POST", `/users/${id}/tokens`, { label: "tests" });
      assert.equal(issued.status, 201);
      tokens[id] = issued.body.token;
    }
  });
  after(() => platform?.dispose());

  const call = async (worker, method, path, { body, headers = {} } = {}) => {
    const response = await platform.fetch(worker, path, {
      method,
      headers: { ...headers, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
    });
    return { status: response.status, body: await response.json() };
  };
  const admin = (method, path, body) => call(INBOX, method, path, { body, headers: { authorization: `Bearer ${platform.adminToken}` } });
  const as = (person) => (method, path, body) => call(INBOX, method, path, { body, headers: { authorization: `Bearer ${tokens[person]}` } });
  const produce = (body) => call(INBOX, "POST", "/notifications", { body, headers: { authorization: `Bearer ${NOTIFY_TOKEN}` } });
  const notification = (key, extra = {}) => ({
    dedup_key: key,
    source: "sentinel",
    category: "gap",
    priority: "medium",
    title: `title of ${key}`,
    audience: { kind: "everyone" },
    ...extra,
  });
  const unread = async (person) => (await as(person)("GET", "/notifications/unread-count")).body.unread;
  const titles = async (person, query = "") =>
    (await as(person)("GET", `/notifications?limit=100${query}`)).body.notifications.map((n) => n.title);
  const slackTexts = async () => (await platform.fakes.requests({ service: "slack" })).map((r) => JSON.parse(r.body).text);

  describe("identity", () => {
    const claims = (extra = {}) => ({
      aud: [AUD],
      iss: `https://${TEAM}`,
      email: "Ann@Example.com",
      exp: Math.floor(Date.now() / 1000) + 600,
      iat: Math.floor(Date.now() / 1000),
      ...extra,
    });
    const withJwt = (jwt) => call(INBOX, "GET", "/me", { headers: { "cf-access-jwt-assertion": jwt } });

    it("knows a person by a verified Access login", async () => {
      const me = await withJwt(teamKey.jwt(claims()));
      assert.equal(me.status, 200, JSON.stringify(me.body));
      assert.equal(me.body.person.id, "ann");
      const fetched = (await platform.fakes.requests({ service: "access" })).map((r) => r.url);
      assert.ok(fetched.includes(`https://${TEAM}/cdn-cgi/access/certs`), JSON.stringify(fetched));
    });

    it("refuses Access tokens that are not the team's, not for this application, expired or tampered with", async () => {
      const refusals = [
        [teamKey.jwt(claims({ aud: ["another-app"] })), /another application/],
        [teamKey.jwt(claims({ iss: "https://evil.cloudflareaccess.com" })), /issued by/],
        [teamKey.jwt(claims({ exp: Math.floor(Date.now() / 1000) - 3600 })), /expired/],
        [strangerKey.jwt(claims()), /not one of the team's/],
        [strangerKey.jwt(claims(), { kid: teamKey.jwk.kid }), /signature does not verify/],
        [teamKey.jwt(claims(), { alg: "none" }), /not RS256/],
        [teamKey.jwt(claims({ email: "mallory@example.com" })), /not a registered person/],
      ];
      for (const [jwt, reason] of refusals) {
        const refused = await withJwt(jwt);
        assert.equal(refused.status, 403, JSON.stringify(refused.body));
        assert.match(refused.body.error, reason);
      }
      const tampered = teamKey.jwt(claims()).split(".");
      tampered[1] = base64url(JSON.stringify(claims({ email: "bob@example.com" })));
      assert.equal((await withJwt(tampered.join("."))).status, 403);
    });

    it("takes personal tokens until they are revoked, and never the admin token", async () => {
      assert.equal((await call(INBOX, "GET", "/notifications")).status, 401);
      const asAdmin = await call(INBOX, "GET", "/notifications", { headers: { authorization: `Bearer ${platform.adminToken}` } });
      assert.equal(asAdmin.status, 403);
      assert.match(asAdmin.body.error, /admin token manages people but is not one/);
      assert.equal((await call(INBOX, "GET", "/notifications", { headers: { authorization: "Bearer ntk_guess" } })).status, 403);
      // The producer route takes neither a person's nor the admin's token.
      assert.equal((await call(INBOX, "POST", "/notifications", { body: notification("x"), headers: { authorization: `Bearer ${tokens.ann}` } })).status, 403);
      // People are managed by the admin only.
      assert.equal((await as("ann")("POST", "/users", { id: "zed", role: "operator" })).status, 403);

      const spare = await admin("POST", "/users/ann/tokens", {});
      const spareToken = spare.body.token;
      const stored = await platform.d1.all("SELECT token_hash FROM notification_tokens WHERE id = ?", spare.body.id);
      assert.equal(stored.length, 1);
      assert.notEqual(stored[0].token_hash, spareToken, "only the hash is stored");
      const annWith = (token) => call(INBOX, "GET", "/me", { headers: { authorization: `Bearer ${token}` } });
      assert.equal((await annWith(spareToken)).body.person.id, "ann");
      assert.equal((await admin("DELETE", `/users/ann/tokens/${spare.body.id}`)).status, 200);
      assert.equal((await annWith(spareToken)).status, 403);
      assert.equal((await annWith(tokens.ann)).status, 200, "other tokens stay valid");
    });
  });

  it("keeps a person from seeing or marking another's notifications", async () => {
    const created = await produce(notification("for-bob-only", { audience: { kind: "people", people: ["bob"] } }));
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id;
    const bobBefore = await unread("bob");

    assert.equal((await as("ann")("GET", `/notifications/${id}`)).status, 404);
    assert.equal((await as("ann")("POST", `/notifications/${id}/read`)).status, 404);
    assert.ok(!(await titles("ann")).includes("title of for-bob-only"));
    assert.deepEqual(await platform.kv.list(`NOTIFICATION_READ:ann:${id}`), []);
    assert.deepEqual(await platform.kv.list(`NOTIFICATION_READ:bob:${id}`), [], "nothing changed for bob");
    assert.equal(await unread("bob"), bobBefore);
    const bobs = await as("bob")("GET", `/notifications/${id}`);
    assert.equal(bobs.status, 200);
    assert.equal(bobs.body.read, false);
  });

  it("keeps the unread count right across create, read, read-all and a new create", async () => {
    const forCarl = (key) => notification(key, { audience: { kind: "people", people: ["carl"] } });
    assert.equal(await unread("carl"), 0);
    const first = (await produce(forCarl("carl-1"))).body.id;
    await produce(forCarl("carl-2"));
    assert.equal(await unread("carl"), 2);
    assert.equal((await as("carl")("GET", "/notifications/unread-count")).body.cached, true, "served from KV while it holds");

    const marked = await as("carl")("POST", `/notifications/${first}/read`);
    assert.equal(marked.status, 200);
    assert.equal(marked.body.unread, 1);
    assert.equal(await unread("carl"), 1);
    const readKey = await platform.kv.list(`NOTIFICATION_READ:carl:${first}`);
    assert.equal(readKey.length, 1);
    assert.ok(readKey[0].expiration > Date.now() / 1000 + 80 * 86_400, "read keys carry a TTL");

    await produce(forCarl("carl-3"));
    assert.equal(await unread("carl"), 2, "a create makes the cached count stale");
    assert.deepEqual(await titles("carl", "&unread=true"), ["title of carl-3", "title of carl-2"]);

    const readAll = await as("carl")("POST", "/notifications/read-all");
    assert.equal(readAll.status, 200);
    assert.equal(readAll.body.kv_writes, 1, "mark-all-read costs one KV write");
    assert.equal(await unread("carl"), 0);
    assert.equal((await platform.kv.list("NOTIFICATION_READ:carl:")).length, 1, "read-all writes no read keys");
    assert.deepEqual(await titles("carl", "&unread=true"), []);

    await produce(forCarl("carl-4"));
    assert.equal(await unread("carl"), 1);
    assert.deepEqual(await titles("carl", "&unread=true"), ["title of carl-4"]);
  });

  it("leaves muted sources out of the list, the count and Slack", async () => {
    const prefs = { muted_sources: ["pattern-discovery"], channels: ["in_app", "slack"], digest: "off" };
    assert.equal((await as("dave")("PUT", "/notifications/preferences", prefs)).status, 200);
    assert.deepEqual((await as("dave")("GET", "/notifications/preferences")).body, { ...prefs, muted_categories: [] });
    await as("dave")("POST", "/notifications/read-all");
    const forDave = { audience: { kind: "people", people: ["dave"] } };

    await produce(notification("dave-pattern", { ...forDave, source: "pattern-discovery", category: "pattern", title: "pattern ready" }));
    await produce(notification("dave-gap", { ...forDave, title: "gap in shop" }));
    assert.deepEqual(await titles("dave"), ["gap in shop"]);
    assert.deepEqual(await titles("dave", "&source=pattern-discovery"), []);
    assert.equal(await unread("dave"), 1);
    const texts = await slackTexts();
    assert.equal(texts.filter((t) => t.includes("gap in shop")).length, 1, JSON.stringify(texts));
    assert.equal(texts.filter((t) => t.includes("pattern ready")).length, 0);
    // Bob muted nothing: the same source is his to see.
    await produce(notification("bob-pattern", { audience: { kind: "people", people: ["bob"] }, source: "pattern-discovery", category: "pattern", title: "bob's pattern" }));
    assert.ok((await titles("bob")).includes("bob's pattern"));
  });

  it("sends a daily digest as one message with the day's items, once", async () => {
    assert.equal((await as("erin")("PUT", "/notifications/preferences", { channels: ["in_app", "slack"], digest: "daily" })).status, 200);
    const forErin = { audience: { kind: "people", people: ["erin"] } };
    await produce(notification("erin-1", { ...forErin, title: "erin first" }));
    await produce(notification("erin-2", { ...forErin, title: "erin second", priority: "high" }));
    const before = await slackTexts();
    assert.equal(before.filter((t) => t.includes("erin first")).length, 0, "a digest person gets nothing at once");

    const midnight = Math.floor(Date.now() / DAY_MS) * DAY_MS + DAY_MS;
    const notYet = await platform.cron(INBOX, "5 * * * *", midnight - HOUR_MS + 5 * 60_000);
    assert.equal(notYet.outcome, "ok");
    assert.equal((await slackTexts()).filter((t) => t.startsWith("Daily digest for erin")).length, 0, "not before the day ends");
    await platform.cron(INBOX, "5 * * * *", midnight + 5 * 60_000);
    await platform.cron(INBOX, "5 * * * *", midnight + 5 * 60_000);
    const digests = (await slackTexts()).filter((t) => t.startsWith("Daily digest for erin"));
    assert.equal(digests.length, 1, JSON.stringify(digests));
    assert.match(digests[0], /2 notifications/);
    assert.match(digests[0], /erin first/);
    assert.match(digests[0], /\[high\] erin second/);
  });

  it("purges expired notifications and nothing else", async () => {
    const expiring = await produce(notification("expiring", { expires_at: new Date(Date.now() + 120_000).toISOString() }));
    await produce(notification("staying", { expires_at: new Date(Date.now() + 10 * DAY_MS).toISOString() }));
    const before = await platform.d1.all("SELECT seq FROM notifications ORDER BY seq");
    const at = Date.now() + HOUR_MS;
    const purge = await platform.cron(INBOX, "30 3 * * *", at);
    assert.equal(purge.outcome, "ok");
    const after = await platform.d1.all("SELECT seq FROM notifications ORDER BY seq");
    assert.deepEqual(after.map((r) => r.seq), before.map((r) => r.seq).filter((seq) => seq !== expiring.body.id));
  });

  it("answers malformed bodies with 400 naming the field", async () => {
    const cases = [
      [() => produce({ ...notification("bad-1"), title: "" }), /^title: /],
      [() => produce({ ...notification("bad-2"), priority: "urgent" }), /^priority: must be one of critical/],
      [() => produce({ ...notification("bad-3"), audience: { kind: "people", people: ["Ann Smith"] } }), /^audience\.people\[0\]: /],
      [() => produce({ ...notification("bad-4"), expires_at: "2001-01-01T00:00:00Z" }), /^expires_at: must be in the future/],
      [() => produce("{not json"), /invalid body/],
      [() => as("ann")("PUT", "/notifications/preferences", { digest: "weekly" }), /^digest: /],
      [() => as("ann")("PUT", "/notifications/preferences", { channels: ["slack"] }), /^channels: must include in_app/],
      [() => as("ann")("GET", "/notifications?limit=1000"), /^limit: /],
      [() => admin("POST", "/users", { id: "zed", role: "Ops Team" }), /^role: /],
    ];
    for (const [request, message] of cases) {
      const answer = await request();
      assert.equal(answer.status, 400, JSON.stringify(answer.body));
      assert.match(answer.body.error, message);
    }
    assert.equal((await platform.d1.all("SELECT seq FROM notifications WHERE dedup_key LIKE 'bad-%'")).length, 0);
  });

  it("shows a trip in platform-usage in a person's inbox once, however often the producer retries", async () => {
    const feature = "inbox:api:trips";
    await platform.kv.put(featureBudgetKey(feature), JSON.stringify({ kv_writes: 2 }));
    const body = { feature_key: feature, project: "inbox", category: "api", feature: "trips", metrics: { kvWrites: 5 }, timestamp: Date.now() };
    await platform.queue(USAGE, "platform-telemetry", [{ id: "inbox-trip-1", body }]);
    assert.equal(await platform.kv.get(featureStatusKey(feature)), "STOP");
    // The queue redelivers the message, and the outbox delivery runs again as if the first run died
    // after the inbox accepted the row but before recording it.
    await platform.queue(USAGE, "platform-telemetry", [{ id: "inbox-trip-1", body }]);
    await platform.d1.exec("UPDATE alert_outbox SET inbox_at = NULL, claimed_at = NULL WHERE kind = 'trip' AND subject LIKE ?", `${feature}:%`);
    const retried = await platform.cron(USAGE, "*/5 * * * *", Date.now());
    assert.equal(retried.outcome, "ok");
    assert.equal((await platform.d1.first("SELECT count(*) AS n FROM alert_outbox WHERE kind = 'trip' AND subject LIKE ? AND inbox_at IS NOT NULL", `${feature}:%`)).n, 1);

    const trips = (await as("ann")("GET", "/notifications?category=breaker&limit=100")).body.notifications.filter((n) => n.body?.includes(feature));
    assert.equal(trips.length, 1, JSON.stringify(trips));
    assert.equal(trips[0].title, "Circuit breaker tripped");
    assert.equal(trips[0].source, USAGE);
    assert.equal(trips[0].priority, "critical");
    // The outbox posted it to Slack itself: nobody is sent it a second time.
    const slack = (await slackTexts()).filter((t) => t.includes(feature) && t.includes("stopped"));
    assert.equal(slack.length, 1, JSON.stringify(slack));
  });
});
