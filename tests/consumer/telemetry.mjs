// The SDK's telemetry messages (consumer-protocol.md §3): snake_case top-level fields, camelCase metrics
// holding only non-zero values, a numeric millisecond timestamp, and at most one message per request.

import { parseFeatureId } from "./keys.mjs";

/** Per-request tracking state, as withFeatureBudget keeps it for a tracked env. */
export function startTracking(featureId, correlationId) {
  return {
    featureId,
    correlationId,
    startedAt: Date.now(),
    traceId: randomHex(16),
    spanId: randomHex(8),
    metrics: {},
    errorCount: 0,
    errorCategory: undefined,
  };
}

export function countMetric(tracking, name, amount) {
  tracking.metrics[name] = (tracking.metrics[name] ?? 0) + amount;
}

/** Counts a D1 statement the way the SDK's proxy does: from the result's meta. */
export function countD1(tracking, meta) {
  countMetric(tracking, "d1Writes", meta.changes);
  countMetric(tracking, "d1RowsWritten", meta.changes);
  countMetric(tracking, "d1Reads", meta.rows_read);
  countMetric(tracking, "d1RowsRead", meta.rows_read);
}

/** reportError(tracked, err) for the only error the test consumer reports, a CircuitBreakerError. */
export function reportCircuitBreakerError(tracking) {
  tracking.errorCount += 1;
  tracking.errorCategory = "CIRCUIT_BREAKER";
}

/** completeTracking(tracked): sends the message unless every metric is zero and no error was reported. */
export async function flushTelemetry(tracking, queue, timestamp) {
  const metrics = Object.fromEntries(Object.entries(tracking.metrics).filter(([, value]) => value > 0));
  if (Object.keys(metrics).length === 0 && tracking.errorCount === 0) return null;
  const message = { ...featureFields(tracking.featureId), metrics, timestamp };
  if (tracking.errorCount > 0) {
    message.error_count = tracking.errorCount;
    message.error_category = tracking.errorCategory;
  }
  message.correlation_id = tracking.correlationId;
  const duration = Date.now() - tracking.startedAt;
  if (duration > 0) message.request_duration_ms = duration;
  message.trace_id = tracking.traceId;
  message.span_id = tracking.spanId;
  await queue.send(message);
  return message;
}

/** The heartbeat health() sends: the id fields, empty metrics, and is_heartbeat. */
export async function sendHeartbeat(featureId, queue, timestamp) {
  const message = { ...featureFields(featureId), metrics: {}, timestamp, is_heartbeat: true };
  await queue.send(message);
  return message;
}

function featureFields(featureId) {
  return { feature_key: featureId, ...parseFeatureId(featureId) };
}

function randomHex(bytes) {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (byte) => byte.toString(16).padStart(2, "0")).join("");
}
