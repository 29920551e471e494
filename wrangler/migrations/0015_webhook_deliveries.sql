-- GitHub webhook deliveries the error collector applied, by X-GitHub-Delivery id: a replayed
-- delivery is acknowledged, not applied again. Rows older than 7 days are swept by the collector.
CREATE TABLE IF NOT EXISTS github_webhook_deliveries (
  delivery_id TEXT PRIMARY KEY,
  received_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS github_webhook_deliveries_received ON github_webhook_deliveries (received_at);
