// Node's side of the telemetry capture (tests/consumer/telemetry-capture.mjs): drains what the test
// consumer sent, after a barrier message proves that everything sent earlier has been delivered.

import { BARRIER_FIELD } from "../consumer/capture-barrier.mjs";
import { pollUntil } from "./poll.mjs";
import { TELEMETRY_BINDING, TEST_CONSUMER } from "./worker-options.mjs";

/** Returns the telemetry messages captured since the previous call, oldest first. */
export async function drainCapturedTelemetry(mf, captureWorker, { timeoutMs = 10_000 } = {}) {
  const barrier = crypto.randomUUID();
  // Sent through the test consumer's own binding, so it queues behind everything the consumer sent.
  await (await mf.getQueueProducer(TELEMETRY_BINDING, TEST_CONSUMER)).send({ [BARRIER_FIELD]: barrier });
  return pollUntil(
    async () => {
      const response = await captureWorker.fetch(`http://capture/drain?barrier=${barrier}`, { method: "POST" });
      const { messages } = await response.json();
      return messages;
    },
    { timeoutMs, what: "the telemetry capture to receive everything sent" },
  );
}
