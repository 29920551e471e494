//! Counts what a backend is asked to do: the platform meters its own D1 use, and tests assert
//! budgets of round trips and statements.

use std::cell::Cell;

use serde::Serialize;

use crate::error::DbError;
use crate::sql::{Outcome, Sql};
use crate::statement::Statement;

/// Work sent to the database so far (failed calls included: they are billed too).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DbCounts {
    /// Calls to the database: one per batch.
    pub round_trips: u32,
    pub statements: u32,
    /// Rows returned to the worker.
    pub rows_returned: u64,
    /// Rows inserted, updated or deleted.
    pub changes: u64,
    /// Rows read and written as D1 bills them (zero on the SQLite twin).
    pub rows_read: u64,
    pub rows_written: u64,
}

/// A backend wrapped to count its work.
#[derive(Debug, Default)]
pub struct Metered<S> {
    inner: S,
    counts: Cell<DbCounts>,
}

impl<S> Metered<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            counts: Cell::default(),
        }
    }

    pub fn counts(&self) -> DbCounts {
        self.counts.get()
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S: Sql> Sql for Metered<S> {
    async fn batch(&self, statements: &[Statement]) -> Result<Vec<Outcome>, DbError> {
        let mut counts = self.counts.get();
        counts.round_trips += 1;
        counts.statements += statements.len() as u32;
        self.counts.set(counts);
        let outcomes = self.inner.batch(statements).await?;
        let mut counts = self.counts.get();
        counts.rows_returned += outcomes.iter().map(|o| o.rows.len() as u64).sum::<u64>();
        counts.changes += outcomes.iter().map(|o| o.changes).sum::<u64>();
        counts.rows_read += outcomes.iter().map(|o| o.rows_read).sum::<u64>();
        counts.rows_written += outcomes.iter().map(|o| o.rows_written).sum::<u64>();
        self.counts.set(counts);
        Ok(outcomes)
    }
}
