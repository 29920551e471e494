// The SDK's feature-level circuit-breaker check, as withFeatureBudget performs it (consumer-protocol.md §2.1).
// The SDK caches the result per isolate until clearCircuitBreakerCache(); the test consumer clears that cache
// on every request so tests see trips at once, which is the same as checking afresh each time.

import {
  GLOBAL_STATUS_KEY,
  LEGACY_DISABLED,
  STOP,
  featureReasonKey,
  featureStatusKey,
  legacyDisabledReasonKey,
  legacyEnabledKey,
  parseFeatureId,
  projectStatusKey,
} from "./keys.mjs";

export class CircuitBreakerError extends Error {
  constructor(featureId, level, reason) {
    super(`Circuit breaker STOP for ${featureId} at ${level} level${reason ? `: ${reason}` : ""}`);
    this.name = "CircuitBreakerError";
    this.featureId = featureId;
    this.level = level;
    this.reason = reason;
  }
}

/** Resolves when the feature may run; rejects with a CircuitBreakerError when a breaker says STOP. */
export async function checkFeatureBreaker(kv, featureId) {
  const { project } = parseFeatureId(featureId);
  // One round of four reads, then the legacy keys only when none of them says STOP.
  const [featureStatus, projectStatus, globalStatus, featureReason] = await Promise.all([
    kv.get(featureStatusKey(featureId)),
    kv.get(projectStatusKey(project)),
    kv.get(GLOBAL_STATUS_KEY),
    kv.get(featureReasonKey(featureId)),
  ]);
  if (globalStatus === STOP) throw new CircuitBreakerError(featureId, "global", "Global circuit breaker is STOP");
  if (projectStatus === STOP) throw new CircuitBreakerError(featureId, "project", `Project ${project} circuit breaker is STOP`);
  if (featureStatus === STOP) throw new CircuitBreakerError(featureId, "feature", featureReason ?? undefined);
  if ((await kv.get(legacyEnabledKey(featureId))) === LEGACY_DISABLED) {
    const reason = await kv.get(legacyDisabledReasonKey(featureId));
    throw new CircuitBreakerError(featureId, "feature", reason ?? undefined);
  }
}
