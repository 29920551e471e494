// Stands in for the platform's telemetry consumer while no platform worker consumes the queue: records
// every message it acks into its own D1 database, from which the harness drains them.
//
// Draining uses a barrier: the harness sends a marker message through the same queue and waits until it
// is recorded. The broker delivers in order, so everything sent before the marker has been captured by then.
// A message whose body carries `captureRetry: { delaySeconds }` is retried instead of recorded, so the
// harness can check how it reports per-message settlement.

import { BARRIER_FIELD } from "./capture-barrier.mjs";

const SCHEMA = `CREATE TABLE IF NOT EXISTS captured (seq INTEGER PRIMARY KEY, body TEXT NOT NULL)`;

export default {
  async queue(batch, env) {
    await env.CAPTURE_DB.prepare(SCHEMA).run();
    for (const message of batch.messages) {
      if (message.body?.captureRetry !== undefined) {
        message.retry({ delaySeconds: message.body.captureRetry.delaySeconds });
        continue;
      }
      await env.CAPTURE_DB.prepare("INSERT INTO captured (body) VALUES (?)").bind(JSON.stringify(message.body)).run();
      message.ack();
    }
  },

  // POST /drain?barrier=<id>: the messages captured before that barrier, removed from the store;
  // 404 while the barrier has not arrived yet.
  async fetch(request, env) {
    const barrier = new URL(request.url).searchParams.get("barrier");
    await env.CAPTURE_DB.prepare(SCHEMA).run();
    const { results } = await env.CAPTURE_DB.prepare("SELECT seq, body FROM captured ORDER BY seq").all();
    const messages = results.map((row) => ({ seq: row.seq, body: JSON.parse(row.body) }));
    const end = messages.findIndex((message) => message.body?.[BARRIER_FIELD] === barrier);
    if (end === -1) return Response.json({ pending: true }, { status: 404 });
    await env.CAPTURE_DB.prepare("DELETE FROM captured WHERE seq <= ?").bind(messages[end].seq).run();
    // A barrier left by an earlier, timed-out drain is not a message.
    const captured = messages.slice(0, end).filter((message) => message.body?.[BARRIER_FIELD] === undefined);
    return Response.json({ messages: captured.map((message) => message.body) });
  },
};
