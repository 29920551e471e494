// sentinel end to end: telemetry goes through the real queue to platform-usage (with past message
// timestamps, to build a week of history), the sentinel's crons run at chosen instants, and the
// fake Slack and GitHub record what they were sent.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startPlatform } from "./harness/platform.mjs";

const SENTINEL = "platform-sentinel";
const DETECT = "0 * * * *";
const WATCH = "*/5 * * * *";
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const WEBHOOK = "https://hooks.slack.com/services/T000/B000/sentinel-tests";
// Day 0 of the scenario: the start of a UTC day some days ahead, so silences set now still hold.
const D0 = Math.floor(Date.now() / DAY) * DAY + DAY;
const at = (day, hour, minute = 0) => D0 + day * DAY + hour * HOUR + minute * 60_000;

let sequence = 0;
function message(feature, timestamp, metrics = { requests: 1 }) {
  const [project, category, name] = feature.split(":");
  sequence += 1;
  // Received when it was sent: platform-usage refuses a timestamp an hour or more after its receipt.
  return {
    id: `sentinel-${sequence}`,
    body: { feature_key: feature, project, category, feature: name, metrics, timestamp },
    timestamp: new Date(timestamp),
  };
}

async function send(platform, messages) {
  for (let i = 0; i < messages.length; i += 50) {
    const result = await platform.queue("platform-usage", "platform-telemetry", messages.slice(i, i + 50));
    assert.equal(result.retried.length, 0, JSON.stringify(result));
  }
}

const slackTexts = async (platform, needle) =>
  (await platform.fakes.requests({ service: "slack" })).map((r) => JSON.parse(r.body).text).filter((t) => t.includes(needle));

describe("sentinel", () => {
  let platform;
  before(async () => {
    platform = await startPlatform({ secrets: { SLACK_WEBHOOK_URL: WEBHOOK, GITHUB_TOKEN: "ghp_sentinelTestToken0123456789abcdef" } });
  });
  after(async () => platform?.dispose());

  it("flags each silent feature once against its own cadence, and says once when it recovers", async () => {
    // Twenty daily crons in four projects, run at 23:30 for a week; one busy feature heard every
    // hour for six days.
    const crons = [];
    for (let p = 0; p < 4; p += 1) {
      await platform.d1.exec(
        "INSERT INTO project_registry (project_id, display_name, repository, tier, scripts, updated_at) VALUES (?, ?, ?, 2, '[]', 0)",
        `gaps${p}`, `Gaps ${p}`, `acme/gaps${p}`,
      );
      for (let f = 0; f < 5; f += 1) crons.push(`gaps${p}:jobs:nightly${f}`);
    }
    const busy = "gaps0:api:search";
    const history = [];
    for (let day = 0; day < 7; day += 1) for (const cron of crons) history.push(message(cron, at(day, 23, 30)));
    for (let hour = 0; hour < 6 * 24; hour += 1) history.push(message(busy, at(0, hour, 10)));
    await send(platform, history);

    // The next day, before the crons' run: the busy feature has been silent for 37 hours.
    await platform.cron(SENTINEL, DETECT, at(7, 13));
    assert.equal((await slackTexts(platform, "sentinel gap")).length, 1);
    assert.equal((await slackTexts(platform, busy)).length, 1);

    // A day's run missed: each cron is a gap of its own, alerted once however many runs see it,
    // and the five of a project that went quiet together are one alert naming each.
    await platform.cron(SENTINEL, DETECT, at(8, 14));
    await platform.cron(SENTINEL, DETECT, at(8, 15));
    const gaps = await slackTexts(platform, "sentinel gap:");
    assert.equal(gaps.length, 1 + 4, gaps.join("\n"));
    for (let p = 0; p < 4; p += 1) {
      const grouped = gaps.filter((t) => t.includes(`5 in project gaps${p} at once`));
      assert.equal(grouped.length, 1, `gaps${p}`);
      assert.match(grouped[0], new RegExp(`The first: gaps${p}:jobs:nightly0 has sent no telemetry since`));
    }
    for (const cron of crons) assert.equal(gaps.filter((t) => t.includes(cron)).length, 1, cron);

    // The error collector filed one gap issue per project and day.
    const issues = (await platform.fakes.requests({ service: "github" })).filter((r) => r.method === "POST" && r.url.endsWith("/issues"));
    assert.equal(issues.length, 4);

    // /gaps says why each fired.
    const answer = await (await platform.adminFetch(SENTINEL, "/gaps")).json();
    assert.equal(answer.open.length, 21);
    const state = answer.result.features[crons[0]];
    assert.equal(state.state, "gap");
    assert.equal(state.cadence.every_ms, DAY);

    // Traffic returns: one recovery each, with how long the gap lasted.
    await send(platform, [...crons, busy].map((feature) => message(feature, at(8, 15, 30))));
    await platform.cron(SENTINEL, DETECT, at(8, 16));
    await platform.cron(SENTINEL, DETECT, at(8, 17));
    const recovered = await slackTexts(platform, "sentinel gap over");
    assert.equal(recovered.length, 4, recovered.join("\n"));
    assert.match(recovered.find((t) => t.includes(busy)), new RegExp(`6 in project gaps0 recovered at .*${busy} \\(after \\d+ d \\d+ h\\)`));
    for (const cron of crons) assert.equal(recovered.filter((t) => t.includes(cron)).length, 1, cron);
  });

  it("alerts once on a cost spike over a flat week, naming the feature, and not on a gradual rise", async () => {
    const base = 10; // days after D0: clear of the gap scenario
    const spiky = "spend:api:upload";
    const steady = "spend:api:list";
    const history = [];
    for (let day = 0; day < 7; day += 1) {
      history.push(message(spiky, at(base + day, 12), { kvWrites: 1_000 }));
      history.push(message(steady, at(base + day, 12), { kvWrites: Math.round(20_000 * (1 + 0.08 * day)) }));
    }
    history.push(message(spiky, at(base + 7, 12), { kvWrites: 500_000 }));
    history.push(message(steady, at(base + 7, 12), { kvWrites: Math.round(20_000 * 1.6) }));
    await send(platform, history);
    await platform.cron(SENTINEL, DETECT, at(base + 8, 1));
    await platform.cron(SENTINEL, DETECT, at(base + 8, 2));
    const alerts = await slackTexts(platform, "sentinel anomaly");
    assert.equal(alerts.length, 1, alerts.join("\n"));
    assert.match(alerts[0], /spend:api:upload cost \$2\.50/);
    assert.match(alerts[0], /kv_writes/);
    const anomalies = await (await platform.adminFetch(SENTINEL, "/anomalies")).json();
    assert.equal(anomalies.open, 1);
    assert.equal(anomalies.anomalies[0].subject, spiky);
    assert.equal(anomalies.anomalies[0].detail.judgement.contributors[0].metric, "kv_writes");
    // The next day is normal: the incident closes.
    await send(platform, [message(spiky, at(base + 8, 12), { kvWrites: 1_000 })]);
    await platform.cron(SENTINEL, DETECT, at(base + 9, 1));
    assert.equal((await slackTexts(platform, "sentinel anomaly over")).length, 1);
  });

  it("records a silenced gap without sending it, until the silence expires", async () => {
    const base = 20;
    const hushed = "hush:jobs:nightly";
    const loud = "hush:jobs:hourly";
    const expiresAt = new Date(at(base + 8, 20)).toISOString();
    const created = await platform.adminFetch(SENTINEL, "/silences", {
      method: "POST",
      body: JSON.stringify({ feature: hushed, kind: "gap", expires_at: expiresAt, reason: "migration" }),
    });
    assert.equal(created.status, 201);
    const refused = await platform.adminFetch(SENTINEL, "/silences", { method: "POST", body: JSON.stringify({ expires_at: expiresAt }) });
    assert.equal(refused.status, 400);
    assert.equal((await (await platform.adminFetch(SENTINEL, "/silences")).json()).silences.length, 1);

    const history = [];
    for (let day = 0; day < 7; day += 1) {
      history.push(message(hushed, at(base + day, 23, 30)));
      history.push(message(loud, at(base + day, 23, 30)));
    }
    await send(platform, history);
    await platform.cron(SENTINEL, DETECT, at(base + 8, 14));
    assert.equal((await slackTexts(platform, `${loud} has sent`)).length, 1);
    assert.equal((await slackTexts(platform, hushed)).length, 0);
    const open = (await (await platform.adminFetch(SENTINEL, "/gaps")).json()).open;
    assert.ok(open.find((i) => i.subject === hushed && i.silenced_by !== null), JSON.stringify(open));

    // Once it has expired, the next gap of the feature is alerted.
    await send(platform, [message(hushed, at(base + 8, 15))]);
    await platform.cron(SENTINEL, DETECT, at(base + 8, 16));
    await platform.cron(SENTINEL, DETECT, at(base + 10, 14));
    assert.equal((await slackTexts(platform, `${hushed} has sent`)).length, 1);
  });

  it("alerts once on a platform handler that stopped stamping, and once when it runs again", async () => {
    const now = Date.now();
    // platform-usage's sweep last ran three hours ago, then stopped.
    await platform.cron("platform-usage", "*/5 * * * *", now - 3 * HOUR);
    await platform.cron(SENTINEL, WATCH, now);
    await platform.cron(SENTINEL, WATCH, now + 5 * 60_000);
    const alerts = await slackTexts(platform, "sentinel platform: platform-usage");
    assert.equal(alerts.length, 1, alerts.join("\n"));
    assert.match(alerts[0], /sweep has not run since/);
    await platform.cron("platform-usage", "*/5 * * * *", Date.now());
    await platform.cron(SENTINEL, WATCH, now + 10 * 60_000);
    assert.equal((await slackTexts(platform, "sentinel platform over: platform-usage:sweep")).length, 1);

    // Each watches the other: the sentinel's watch gone quiet shows in platform-usage's /health.
    const health = await (await platform.fetch(SENTINEL, "/health")).json();
    assert.equal(health.bindings.ERROR_COLLECTOR, true);
    await platform.cron(SENTINEL, WATCH, Date.now() - HOUR);
    const usage = await (await platform.fetch("platform-usage", "/health")).json();
    assert.ok(usage.warnings.some((w) => w.startsWith("platform-sentinel: handler watch has not run since")), JSON.stringify(usage.warnings));
  });

  it("says once that a heartbeat went stale, and once that it beats again", async () => {
    const beat = "beat:do:room";
    const heartbeat = (timestamp) => {
      const m = message(beat, timestamp, {});
      m.body.is_heartbeat = true;
      return m;
    };
    const last = at(30, 12);
    await send(platform, Array.from({ length: 24 }, (_, i) => heartbeat(last - (23 - i) * 5 * 60_000)));
    await platform.cron(SENTINEL, DETECT, last + 20 * 60_000);
    assert.equal((await slackTexts(platform, `${beat}'s heartbeat is stale`)).length, 0);
    await platform.cron(SENTINEL, DETECT, last + 3 * HOUR);
    await platform.cron(SENTINEL, DETECT, last + 4 * HOUR);
    assert.equal((await slackTexts(platform, `${beat}'s heartbeat is stale`)).length, 1);
    await send(platform, [heartbeat(last + 4 * HOUR + 10 * 60_000)]);
    await platform.cron(SENTINEL, DETECT, last + 4 * HOUR + 15 * 60_000);
    assert.equal((await slackTexts(platform, `sentinel heartbeat over: ${beat}`)).length, 1);
  });
});
