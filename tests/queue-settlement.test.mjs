// Per-message settlement follows Cloudflare's precedence: explicit calls, then ackAll/retryAll, then the outcome.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { settleBatch } from "./harness/queue-settlement.mjs";

const result = (overrides) => ({
  outcome: "ok",
  ackAll: false,
  retryBatch: { retry: false },
  explicitAcks: [],
  retryMessages: [],
  ...overrides,
});
const ids = ["a", "b", "c"];

describe("settleBatch", () => {
  it("acks every message implicitly when the handler returns", () => {
    assert.deepEqual(settleBatch(result({}), ids), { outcome: "ok", acked: ids, retried: [] });
  });

  it("retries every message not explicitly acked when the handler throws", () => {
    assert.deepEqual(settleBatch(result({ outcome: "exception", explicitAcks: ["a"] }), ids), {
      outcome: "exception",
      acked: ["a"],
      retried: [{ id: "b" }, { id: "c" }],
    });
  });

  it("lets explicit retries win over ackAll, and retryAll apply to the rest", () => {
    assert.deepEqual(settleBatch(result({ ackAll: true, retryMessages: [{ msgId: "b", delaySeconds: 5 }] }), ids), {
      outcome: "ok",
      acked: ["a", "c"],
      retried: [{ id: "b", delaySeconds: 5 }],
    });
    assert.deepEqual(settleBatch(result({ retryBatch: { retry: true, delaySeconds: 9 }, explicitAcks: ["c"] }), ids), {
      outcome: "ok",
      acked: ["c"],
      retried: [{ id: "a", delaySeconds: 9 }, { id: "b", delaySeconds: 9 }],
    });
  });
});
