// The consumer-protocol KV keys and values (consumer-protocol.md §2.1, §2.4): the one place tests and the
// test consumer build them. Keys are case-sensitive and values are compared exactly.

/** `project:category:feature` split into its parts; the SDK only checks that there are exactly three. */
export function parseFeatureId(featureId) {
  const parts = featureId.split(":");
  if (parts.length !== 3) throw new Error(`Invalid featureId format: "${featureId}". Expected "project:category:feature"`);
  const [project, category, feature] = parts;
  return { project, category, feature };
}

// Read by withFeatureBudget (the SDK core).
export const featureStatusKey = (featureId) => `CONFIG:FEATURE:${featureId}:STATUS`;
export const featureReasonKey = (featureId) => `CONFIG:FEATURE:${featureId}:REASON`;
export const projectStatusKey = (project) => `CONFIG:PROJECT:${project}:STATUS`;
export const GLOBAL_STATUS_KEY = "CONFIG:GLOBAL:STATUS";
export const legacyEnabledKey = (featureId) => `FEATURE:${featureId}:enabled`;
export const legacyDisabledReasonKey = (featureId) => `FEATURE:${featureId}:disabled_reason`;
export const STOP = "STOP";
export const LEGACY_DISABLED = "false";

// Read only by the /middleware helpers; the project slug is upper-cased.
export const GLOBAL_STOP_ALL_KEY = "GLOBAL_STOP_ALL";
export const middlewareProjectKey = (project) => `PROJECT:${project.toUpperCase()}:STATUS`;
export const GLOBAL_STOP_ALL_ON = "true";
export const PROJECT_PAUSED = "paused";
export const PROJECT_WARNING = "warning";
