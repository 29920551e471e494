// What platform-usage has counted, read from its rollup rows (crates/platform-db/src/usage/rollup.rs):
// each row of a project and period maps "<feature key> <metric>" to an amount, in any shard (a key's
// %, " and \ are percent-encoded there; the keys tests use have none).

/** A feature's counted amount of a metric (budget spelling, e.g. "kv_reads") over every UTC day. */
export async function featureTotal(platform, feature, metric) {
  const project = feature.slice(0, feature.indexOf(":"));
  const row = await platform.d1.first(
    "SELECT total(entry.value) AS value FROM usage_rollups AS u, json_each(u.totals) AS entry " +
      "WHERE u.project = ? AND length(u.period) = 10 AND entry.key = ?",
    project,
    `${feature} ${metric}`,
  );
  return row?.value ?? 0;
}

/** A project's counted amount of a metric over every UTC day. */
export async function projectTotal(platform, project, metric) {
  const row = await platform.d1.first(
    "SELECT total(entry.value) AS value FROM usage_rollups AS u, json_each(u.totals) AS entry " +
      "WHERE u.project = ? AND length(u.period) = 10 AND entry.key LIKE ?",
    project,
    `% ${metric}`,
  );
  return row?.value ?? 0;
}
