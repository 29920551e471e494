// Platform-internal PLATFORM_CACHE keys that tests seed or inspect, as docs/kv-keys.md specifies them
// (the consumer contract's keys are in tests/consumer/keys.mjs).

/** The enforced daily budget sync-config writes. */
export const featureBudgetKey = (featureId) => `CONFIG:FEATURE:${featureId}:BUDGET`;
export const featureMonthlyBudgetKey = (featureId) => `CONFIG:FEATURE:${featureId}:BUDGET_MONTHLY`;
/** The normalised budgets document: project limits under `projects`. */
export const BUDGETS_KEY = "CONFIG:BUDGETS";
export const budgetWarnKey = (featureId, metric, threshold) => `BUDGET_WARN:${featureId}:${metric}:${threshold}`;
export const featureAutoResetKey = (featureId) => `FEATURE:${featureId}:auto_reset_at`;
export const SETTINGS_CACHE_KEY = "CONFIG:SETTINGS:ALL";
