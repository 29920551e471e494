//! `error_collector_state`: a few named facts about the collector itself, for `/health`.

use crate::db::Db;
use crate::error::DbError;
use crate::row::{FromRow, Row};
use crate::sql::Sql;
use crate::statement::Statement;
use crate::tables::ERROR_COLLECTOR_STATE;

/// The facts the collector keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactKey {
    /// The last issue GitHub accepted (`owner/name#number`).
    LastIssueWrite,
    /// The last refusal or failure of a GitHub call.
    LastGithubError,
    /// The last check of the token (`GET /user`): `ok:{login}` or `refused:{reason}`.
    GithubCheck,
}

impl FactKey {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LastIssueWrite => "last_issue_write",
            Self::LastGithubError => "last_github_error",
            Self::GithubCheck => "github_check",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::LastIssueWrite, Self::LastGithubError, Self::GithubCheck]
            .into_iter()
            .find(|k| k.as_str() == raw)
    }
}

/// A fact and when it was recorded (epoch ms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fact {
    pub value: String,
    pub at: u64,
}

/// Every fact the collector has recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectorState {
    pub last_issue_write: Option<Fact>,
    pub last_github_error: Option<Fact>,
    pub github_check: Option<Fact>,
}

/// The statement recording `key` (replacing what it said before); run it in the batch of the
/// write it is about when there is one.
pub fn record(key: FactKey, value: &str, now: u64) -> Statement {
    Statement::write(
        &ERROR_COLLECTOR_STATE,
        "INSERT INTO error_collector_state (key, value, at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, at = excluded.at",
        vec![key.as_str().into(), value.into(), now.into()],
    )
}

/// Records one fact on its own.
pub async fn set<S: Sql>(db: &Db<S>, key: FactKey, value: &str, now: u64) -> Result<(), DbError> {
    db.run("recording collector state", record(key, value, now))
        .await?;
    Ok(())
}

struct Stored {
    /// `None` for a key this version does not know.
    key: Option<FactKey>,
    fact: Fact,
}

impl FromRow for Stored {
    fn from_row(row: &Row) -> Result<Self, String> {
        Ok(Self {
            key: FactKey::parse(&row.get::<String>("key")?),
            fact: Fact {
                value: row.get("value")?,
                at: row.get("at")?,
            },
        })
    }
}

/// What the collector has recorded about itself.
pub async fn read<S: Sql>(db: &Db<S>) -> Result<CollectorState, DbError> {
    let statement = Statement::read("SELECT key, value, at FROM error_collector_state", Vec::new());
    let stored: Vec<Stored> = db.rows("reading collector state", statement).await?;
    let mut state = CollectorState::default();
    for Stored { key, fact } in stored {
        match key {
            Some(FactKey::LastIssueWrite) => state.last_issue_write = Some(fact),
            Some(FactKey::LastGithubError) => state.last_github_error = Some(fact),
            Some(FactKey::GithubCheck) => state.github_check = Some(fact),
            None => {}
        }
    }
    Ok(state)
}
