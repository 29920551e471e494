//! `tail_scripts`: each script whose tail events reach the collector, with the last one's time,
//! so an operator (and `platform doctor`) can tell a script wired as a tail producer from one
//! that is not wired at all: errors alone cannot, a healthy script has none.

use crate::db::Db;
use crate::error::DbError;
use crate::row::{FromRow, Row};
use crate::sql::Sql;
use crate::statement::Statement;
use crate::tables::TAIL_SCRIPTS;

/// A script and its last tail event (epoch ms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailScript {
    pub script: String,
    pub last_event_at: u64,
}

impl FromRow for TailScript {
    fn from_row(row: &Row) -> Result<Self, String> {
        Ok(Self {
            script: row.get("script")?,
            last_event_at: row.get("last_event_at")?,
        })
    }
}

/// Records a tail event of `script` at `at`; an earlier time never replaces a later one.
pub fn seen(script: &str, at: u64) -> Statement {
    Statement::write(
        &TAIL_SCRIPTS,
        "INSERT INTO tail_scripts (script, last_event_at) VALUES (?1, ?2) \
         ON CONFLICT (script) DO UPDATE SET last_event_at = max(last_event_at, excluded.last_event_at)",
        vec![script.into(), at.into()],
    )
}

/// Every script on record, the most recently heard first.
pub async fn list<S: Sql>(db: &Db<S>) -> Result<Vec<TailScript>, DbError> {
    let statement = Statement::read(
        "SELECT script, last_event_at FROM tail_scripts ORDER BY last_event_at DESC, script",
        Vec::new(),
    );
    db.rows("reading the tail scripts", statement).await
}
