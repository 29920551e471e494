//! `github_webhook_deliveries`: the GitHub webhook deliveries the collector applied, by their
//! `X-GitHub-Delivery` id, so a replayed delivery (GitHub's redelivery, or a replay by anyone
//! holding a signed body) is not applied again. The row is the claim; kept 7 days.

use crate::db::Db;
use crate::error::DbError;
use crate::sql::Sql;
use crate::statement::Statement;
use crate::tables::GITHUB_WEBHOOK_DELIVERIES;

/// Claims `delivery`: true for the first caller only.
pub async fn claim<S: Sql>(db: &Db<S>, delivery: &str, now: u64) -> Result<bool, DbError> {
    let statement = Statement::write(
        &GITHUB_WEBHOOK_DELIVERIES,
        "INSERT INTO github_webhook_deliveries (delivery_id, received_at) VALUES (?1, ?2) \
         ON CONFLICT (delivery_id) DO NOTHING RETURNING delivery_id",
        vec![delivery.into(), now.into()],
    );
    Ok(!db
        .run("claiming a webhook delivery", statement)
        .await?
        .rows
        .is_empty())
}

/// Gives a claim back when applying the delivery failed, so GitHub's redelivery is applied.
pub async fn release<S: Sql>(db: &Db<S>, delivery: &str) -> Result<(), DbError> {
    let statement = Statement::write(
        &GITHUB_WEBHOOK_DELIVERIES,
        "DELETE FROM github_webhook_deliveries WHERE delivery_id = ?1",
        vec![delivery.into()],
    );
    db.run("releasing a webhook delivery", statement).await?;
    Ok(())
}
