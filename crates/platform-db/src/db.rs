//! A worker's view of the database: every write is checked against the table's writers before
//! anything runs, as the KV store refuses writes to families a worker does not own.

use platform_kv::PlatformWorker;

use crate::error::{DbError, DbErrorKind};
use crate::row::FromRow;
use crate::sql::{Outcome, Sql};
use crate::statement::Statement;

/// The database as one worker uses it.
#[derive(Debug)]
pub struct Db<S> {
    sql: S,
    worker: PlatformWorker,
}

impl<S: Sql> Db<S> {
    pub fn new(sql: S, worker: PlatformWorker) -> Self {
        Self { sql, worker }
    }

    pub fn worker(&self) -> PlatformWorker {
        self.worker
    }

    pub fn backend(&self) -> &S {
        &self.sql
    }

    /// Runs statements as one transaction in one round trip (none when there are none). A write
    /// the worker may not make refuses the whole batch, so nothing is half-written.
    pub async fn batch(&self, context: &str, statements: Vec<Statement>) -> Result<Vec<Outcome>, DbError> {
        if statements.is_empty() {
            return Ok(Vec::new());
        }
        for statement in &statements {
            if let Some(table) = statement.writes() {
                if !table.writers.allows(self.worker) {
                    return Err(DbError::new(
                        DbErrorKind::Refused,
                        context,
                        format!(
                            "{} may not write table {} (written by {})",
                            self.worker.crate_name(),
                            table.name,
                            table.writers
                        ),
                    ));
                }
            }
        }
        self.sql.batch(&statements).await.map_err(|e| e.during(context))
    }

    /// Runs one statement.
    pub async fn run(&self, context: &str, statement: Statement) -> Result<Outcome, DbError> {
        let mut outcomes = self.batch(context, vec![statement]).await?;
        outcomes
            .pop()
            .ok_or_else(|| DbError::backend(context, "the database returned no result"))
    }

    /// The typed rows one statement returns.
    pub async fn rows<T: FromRow>(&self, context: &str, statement: Statement) -> Result<Vec<T>, DbError> {
        let outcome = self.run(context, statement).await?;
        decode(context, &outcome)
    }

    /// The first typed row one statement returns, if any.
    pub async fn first<T: FromRow>(&self, context: &str, statement: Statement) -> Result<Option<T>, DbError> {
        let outcome = self.run(context, statement).await?;
        Ok(decode(context, &outcome)?.into_iter().next())
    }
}

/// The rows of one outcome as `T`.
pub fn decode<T: FromRow>(context: &str, outcome: &Outcome) -> Result<Vec<T>, DbError> {
    outcome
        .rows
        .iter()
        .map(|row| T::from_row(row).map_err(|e| DbError::decode(context, e)))
        .collect()
}

/// The rows of `outcomes` that read as `T`; each that does not is described in `skipped` (a row
/// written by hand, a key from an older format) and left out, so one bad row cannot stop a batch.
pub fn lenient<T: FromRow>(outcomes: &[Outcome], skipped: &mut Vec<String>) -> Vec<T> {
    let mut rows = Vec::new();
    for row in outcomes.iter().flat_map(|o| &o.rows) {
        match T::from_row(row) {
            Ok(value) => rows.push(value),
            Err(error) => skipped.push(error),
        }
    }
    rows
}
