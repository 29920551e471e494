// The dashboard in a real browser: headless Chromium (Debian's, driven by playwright-core) against the
// whole platform in Miniflare, seeded with this month's usage, a tripped feature, a silent feature and
// an error with its GitHub issue. Each page is checked for its figures and photographed into
// test-results/dashboard/ (not committed); every request the browser makes must stay on the origin.

import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { chromium } from "playwright-core";
import { featureBudgetKey } from "./harness/platform-keys.mjs";
import { startPlatform } from "./harness/platform.mjs";

const INBOX = "platform-notifications";
const USAGE = "platform-usage";
const SENTINEL = "platform-sentinel";
const COLLECTOR = "platform-error-collector";
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const SHOTS = new URL("../test-results/dashboard/", import.meta.url).pathname;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const TRIPPED = "shop:api:checkout";
const CART = "shop:api:cart";
const SILENT = "shop:jobs:sync";
const PATTERNS = "platform-pattern-discovery";
const VENDORS = ["acme", "globex", "initech", "umbrella", "hooli", "stark"];

let sequence = 0;
const message = (feature, timestamp, metrics) => {
  const [project, category, name] = feature.split(":");
  sequence += 1;
  return { id: `dash-${sequence}`, body: { feature_key: feature, project, category, feature: name, metrics, timestamp } };
};

describe("dashboard", { skip: !existsSync(CHROMIUM) && `no Chromium at ${CHROMIUM} (scripts/setup installs it)` }, () => {
  let platform;
  let browser;
  let origin;
  const tokens = {};
  const offOrigin = [];

  before(async () => {
    platform = await startPlatform({
      secrets: { NOTIFY_TOKEN: "notify-token-for-dashboard-tests", SLACK_WEBHOOK_URL: "https://hooks.slack.com/services/T000/B000/dashboard", GITHUB_TOKEN: "ghp_dashboardTestToken0123456789abcdef" },
      queueBatchTimeout: 0,
      consumer: true,
      listen: { port: 0 },
    });
    origin = new URL(platform.urls[INBOX]).origin;
    const admin = (path, body) =>
      platform.adminFetch(INBOX, path, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });
    for (const [id, role] of [["ann", "admin"], ["bob", "developer"]]) {
      assert.equal((await admin("/users", { id, role, display_name: id === "ann" ? "Ann Admin" : "Bob Developer" })).status, 201);
      tokens[id] = (await (await admin(`/users/${id}/tokens`, { label: "browser tests" })).json()).token;
    }

    // A month of usage: the cart every day of the last 30, the checkout over its daily d1_writes budget today.
    const now = Date.now();
    await platform.kv.put(featureBudgetKey(CART), JSON.stringify({ kv_writes: 5000, d1_writes: 10000 }));
    await platform.kv.put(featureBudgetKey(TRIPPED), JSON.stringify({ d1_writes: 1000 }));
    // The budgets document as sync-config writes it: the shop's limits on all its features, the account's dollars.
    await platform.kv.put("CONFIG:BUDGETS", JSON.stringify({
      projects: { shop: { daily: { kv_writes: 50000 }, monthly: { kv_writes: 2000000 } } },
      account: { monthly: { cost_usd: 50 } },
    }));
    const history = [];
    for (let back = 29; back >= 0; back -= 1) {
      const at = now - back * DAY - 60_000;
      history.push(message(CART, at, { kvWrites: 1200 + (back % 7) * 150, d1Writes: 800 + (back % 5) * 90, requests: 4000 + (back % 3) * 700 }));
    }
    // A feature heard every hour for five days, then silent for a day and a half.
    for (let t = now - 6 * DAY; t < now - 36 * HOUR; t += HOUR) history.push(message(SILENT, t, { requests: 10 }));
    for (let i = 0; i < history.length; i += 50) {
      const result = await platform.queue(USAGE, "platform-telemetry", history.slice(i, i + 50));
      assert.equal(result.retried.length, 0, JSON.stringify(result));
    }
    const trip = await platform.queue(USAGE, "platform-telemetry", [message(TRIPPED, now - 60_000, { d1Writes: 1500 })]);
    assert.equal(trip.retried.length, 0);
    await platform.cron(SENTINEL, "0 * * * *", now);
    // The account's own usage this month, one collected hour a day, as the collector stores it
    // ([metric, resource, project, amount]): the cost per day the overview charts.
    const monthStart = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), 1);
    for (let hour = monthStart + HOUR, day = 0; hour < now - HOUR; hour += DAY, day += 1) {
      await platform.d1.exec(
        "INSERT OR REPLACE INTO account_usage (hour_at, dataset, lines, sample_interval, collected_at) VALUES (?, ?, ?, 1, ?)",
        hour, "workers", JSON.stringify([["workers.requests", "shop-api", "shop", 20e6 + day * 1e6]]), hour + HOUR,
      );
    }

    // An error, filed on the fake GitHub.
    await platform.kv.put("SCRIPT_MAP:shop-api", JSON.stringify({ project: "shop", repository: "acme/shop", tier: 1, displayName: "Shop" }));
    const exception = (message, name = "Error") => ({
      scriptName: "shop-api", outcome: "exception", eventTimestamp: now,
      event: { request: { url: "https://shop.example/api/orders", method: "POST", headers: {} } },
      exceptions: [{ name, message, timestamp: now }],
      logs: [], diagnosticsChannelEvents: [],
    });
    await platform.tail(COLLECTOR, [exception("Cannot read properties of undefined (reading 'total')", "TypeError")]);
    // A transient family, one fingerprint per request id, that discovery suggests as a pattern.
    await platform.tail(COLLECTOR, VENDORS.map((vendor, i) => exception(`Payments API throttled request req_${i}f3a${i}c9 for ${vendor}, slow down`)));
    const discovered = await platform.adminFetch(PATTERNS, "/discover", { method: "POST" });
    assert.equal(discovered.status, 200, await discovered.clone().text());

    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    mkdirSync(SHOTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await platform?.dispose();
  });

  /** A browser page signed in with `who`'s personal token (the sign-in form), every request watched. */
  async function signedIn(who) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.route("**/*", (route) => {
      const url = route.request().url();
      if (new URL(url).origin === origin) return route.continue();
      offOrigin.push(url);
      return route.abort();
    });
    const page = await context.newPage();
    const response = await page.goto(`${origin}/dashboard`);
    assert.equal(response.status(), 401);
    if (who !== undefined) {
      await page.fill("#token", tokens[who]);
      await Promise.all([page.waitForURL(`${origin}/dashboard/overview`), page.click("button")]);
    }
    return page;
  }

  const text = (page) => page.locator("main").innerText();
  const shoot = (page, name) => page.screenshot({ path: `${SHOTS}${name}.png`, fullPage: true });

  it("refuses anonymous requests with the sign-in page and no data", async () => {
    for (const path of ["/dashboard", "/dashboard/budgets", "/dashboard/errors", "/dashboard/confirm?action=global-stop"]) {
      const response = await platform.fetch(INBOX, path);
      assert.equal(response.status, 401, path);
      const body = await response.text();
      assert.match(body, /Sign in/);
      assert.doesNotMatch(body, /shop|checkout|TypeError/, path);
    }
    const post = await platform.fetch(INBOX, "/dashboard/actions", {
      method: "POST", body: "action=global-stop&target=", headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    assert.equal(post.status, 401);
    const wrong = await platform.fetch(INBOX, "/dashboard/login", {
      method: "POST", body: "token=ntk_" + "0".repeat(64), headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    assert.equal(wrong.status, 403);
    assert.equal(wrong.headers.get("set-cookie"), null);
    const page = await signedIn(undefined);
    await shoot(page, "sign-in");
    await page.context().close();
  });

  it("renders every page with its figures, under a strict CSP", async () => {
    const page = await signedIn("ann");
    const response = await page.goto(`${origin}/dashboard/overview`);
    const csp = response.headers()["content-security-policy"];
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /form-action 'self'/);
    assert.doesNotMatch(csp, /script-src/);
    const overview = await text(page);
    assert.match(overview, /estimated from reported usage and list prices \(not a bill\)/);
    assert.match(overview, /\$\d+\.\d\d\nmonth to date, estimate/);
    assert.match(overview, new RegExp(`Top features by cost[\\s\\S]*${CART}\\s+\\$\\d+\\.\\d\\d`));
    assert.match(overview, new RegExp(`tripped\\s+${TRIPPED}`));
    assert.match(overview, new RegExp(`silent\\s+${SILENT}`));
    assert.match(overview, /Fullest budgets/);
    assert.match(overview, /\$50\.00\nmonthly budget/);
    // The month so far, day by day (a running total), against the budget and the forecast.
    const month = page.locator("figure", { has: page.locator("svg > title", { hasText: "Month to date, day by day (USD, estimate)" }) });
    const days = await month.locator("rect.bar > title").allTextContents();
    const thisMonth = new Date().toISOString().slice(0, 8);
    assert.ok(days.length >= 1 && days.every((d) => d.startsWith(thisMonth)), days.join(", "));
    const totals = days.map((d) => Number(/: ([\d.,]+) USD/.exec(d)[1].replace(/,/g, "")));
    assert.ok(totals.every((t, i) => i === 0 || t >= totals[i - 1]), `a running total: ${totals}`);
    assert.equal(await month.locator("line.limit > title", { hasText: /^budget 50 USD$/ }).count(), 1);
    assert.equal(await month.locator("line.limit > title", { hasText: /^forecast [\d.,]+ USD$/ }).count(), 1);
    await shoot(page, "overview");

    await page.goto(`${origin}/dashboard/budgets`);
    const budgets = await text(page);
    assert.match(budgets, /1,500 \/ 1,000 d1_writes \(150 %\)/);
    assert.match(budgets, new RegExp(`${CART}\\s+enabled`));
    assert.match(budgets, /daily budget exceeded: d1_writes = 1500 of 1000/);
    // The shop's own limits, against the total of its features: today's cart (1,200) and the month's.
    const shop = await page.locator("tr", { has: page.locator("td", { hasText: /^shop$/ }) }).innerText();
    assert.match(shop, /1,200 \/ 50,000 kv_writes \(\d+ %\)/);
    assert.match(shop, /[\d,]+ \/ 2,000,000 kv_writes \(\d+ %\)/);
    assert.equal(await page.locator("button", { hasText: "Disable" }).count() > 0, true);
    await shoot(page, "budgets");

    await page.goto(`${origin}/dashboard/usage`);
    const usage = await text(page);
    assert.match(usage, /estimate/);
    assert.match(usage, /kv_writes per day \(estimate\)/);
    assert.equal(await page.locator("svg[role=img]").count() >= 3, true);
    const bars = page.locator("figure", { has: page.locator("title", { hasText: "kv_writes per day (estimate)" }) }).locator("rect.bar");
    assert.equal(await bars.count(), 30, "a bar for each of the last 30 days");
    await shoot(page, "usage");

    await page.goto(`${origin}/dashboard/errors`);
    assert.match(await text(page), /Cannot read properties of undefined/);
    const issue = await page.locator("tr", { hasText: "Cannot read properties" }).locator("a", { hasText: "acme/shop#" }).getAttribute("href");
    assert.match(issue, /^https:\/\/github\.com\/acme\/shop\/issues\/\d+$/);
    await shoot(page, "errors");

    await page.goto(`${origin}/dashboard/anomalies`);
    assert.match(await text(page), new RegExp(`gap\\s+${SILENT}`));
    assert.match(await text(page), /Every feature's rhythm/);
    await shoot(page, "anomalies");

    await page.goto(`${origin}/dashboard/patterns`);
    const patterns = await text(page);
    assert.match(patterns, /payments api throttled request slow down/i);
    assert.match(patterns, /backtest: matched 6 of 6 in its cluster/);
    assert.match(patterns, /pending/);
    await shoot(page, "patterns");

    await page.goto(`${origin}/dashboard/inbox`);
    assert.match(await text(page), /checkout|Breaker|breaker/);
    await shoot(page, "inbox");

    await page.goto(`${origin}/dashboard/health`);
    const health = await text(page);
    for (const worker of ["platform-usage", "platform-error-collector", "platform-sentinel", "platform-pattern-discovery", "platform-sync-config"]) {
      assert.match(health, new RegExp(worker));
    }
    assert.match(health, /sweep/);
    assert.match(health, /detect\s+1\s+failing/, "the sentinel's failed detection, with its error");
    await shoot(page, "health");

    const css = await page.request.get(`${origin}${await page.locator("link[rel=stylesheet]").getAttribute("href")}`);
    assert.equal(css.status(), 200);
    assert.match(css.headers()["cache-control"], /max-age=31536000/);
    await page.context().close();
  });

  it("fits a phone: only wide tables scroll, inside their own box", async () => {
    const page = await signedIn("bob");
    await page.setViewportSize({ width: 390, height: 844 });
    for (const path of ["overview", "budgets", "usage", "health"]) {
      await page.goto(`${origin}/dashboard/${path}`);
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 390, `${path} is ${width} px wide on a 390 px screen`);
    }
    await page.goto(`${origin}/dashboard/budgets`);
    await shoot(page, "budgets-phone");
    await page.context().close();
  });

  it("lets an admin disable a feature after confirming, and the consumer is refused", async () => {
    const before = await platform.fetch("test-consumer", `/work?feature=${CART}&kv=1`);
    assert.equal(before.status, 200);
    const page = await signedIn("ann");
    await page.goto(`${origin}/dashboard/budgets`);
    const row = page.locator("tr", { hasText: CART });
    await row.locator("button", { hasText: "Disable" }).click();
    assert.match(await text(page), new RegExp(`Disable feature ${CART}\\?`));
    await shoot(page, "confirm");
    await Promise.all([page.waitForURL(/\/dashboard\/budgets\?done=disable-feature/), page.click("button.danger")]);
    const after = await text(page);
    assert.match(after, new RegExp(`Done: Disable feature ${CART}`));
    assert.match(after, new RegExp(`${CART}\\s+disabled\\s+by ann from the dashboard`));
    const refused = await platform.fetch("test-consumer", `/work?feature=${CART}&kv=1`);
    assert.equal(refused.status, 503);
    assert.equal((await refused.json()).code, "CIRCUIT_BREAKER");
    await page.context().close();
  });

  it("lets an admin approve a suggested pattern, recorded as theirs", async () => {
    const page = await signedIn("ann");
    await page.goto(`${origin}/dashboard/patterns`);
    await page.locator("tr", { hasText: "throttled" }).locator("button", { hasText: "Approve" }).click();
    assert.match(await text(page), /Approve pattern pat-[0-9a-f]{16}\?/);
    await Promise.all([page.waitForURL(/\/dashboard\/patterns\?done=approve-pattern/), page.click("button.danger")]);
    const after = await text(page);
    assert.match(after, /Done: Approve pattern pat-/);
    assert.match(after, /approved/);
    const listed = await (await platform.adminFetch(PATTERNS, "/patterns?status=approved")).json();
    assert.equal(listed.patterns.length, 1);
    assert.equal(listed.patterns[0].decided_by, "ann");
    await page.context().close();
  });

  it("shows a non-admin no action and refuses their forged posts", async () => {
    const page = await signedIn("bob");
    for (const path of ["budgets", "errors", "patterns"]) {
      await page.goto(`${origin}/dashboard/${path}`);
      assert.equal(await page.locator("main form").count(), 0, path);
    }
    const confirm = await page.goto(`${origin}/dashboard/confirm?action=global-stop&target=`);
    assert.equal(confirm.status(), 403);
    const forged = await page.request.post(`${origin}/dashboard/actions`, { form: { action: "global-stop", target: "", csrf: "0".repeat(64) } });
    assert.equal(forged.status(), 403);
    assert.match(await forged.text(), /admin role/);
    await page.context().close();

    // An admin's session with a token that is not theirs (or none) is refused too.
    const admin = await signedIn("ann");
    for (const csrf of ["", "0".repeat(64)]) {
      const response = await admin.request.post(`${origin}/dashboard/actions`, { form: { action: "global-stop", target: "", csrf } });
      assert.equal(response.status(), 403, csrf);
      assert.match(await response.text(), /token is missing, expired or not yours/);
    }
    // A cross-site post is refused even with the admin's own valid token.
    await admin.goto(`${origin}/dashboard/confirm?action=global-stop&target=`);
    const csrf = await admin.locator("input[name=csrf]").getAttribute("value");
    const crossSite = await admin.request.post(`${origin}/dashboard/actions`, {
      form: { action: "global-stop", target: "", csrf },
      headers: { "sec-fetch-site": "cross-site" },
    });
    assert.equal(crossSite.status(), 403);
    assert.match(await crossSite.text(), /posted from another site/);
    const status = await (await platform.adminFetch(USAGE, "/status")).json();
    assert.equal(status.global.stopped, false);
    await admin.context().close();
  });

  it("made no request outside its origin", () => {
    assert.deepEqual(offOrigin, []);
  });
});
