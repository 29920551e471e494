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

thread_local! {
    /// Every metered backend's work in this isolate, until taken.
    static ISOLATE: Cell<DbCounts> = Cell::default();
}

/// The work sent through every metered backend of this isolate since the last call: the
/// platform's own footprint, logged once per invocation. Invocations that overlap in one isolate
/// share the figures between them; their sum stays exact.
pub fn take_isolate_counts() -> DbCounts {
    ISOLATE.with(Cell::take)
}

impl DbCounts {
    fn add(&mut self, more: &DbCounts) {
        self.round_trips += more.round_trips;
        self.statements += more.statements;
        self.rows_returned += more.rows_returned;
        self.changes += more.changes;
        self.rows_read += more.rows_read;
        self.rows_written += more.rows_written;
    }
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

    fn count(&self, more: &DbCounts) {
        let add = |cell: &Cell<DbCounts>| {
            let mut counts = cell.get();
            counts.add(more);
            cell.set(counts);
        };
        add(&self.counts);
        ISOLATE.with(add);
    }
}

impl<S: Sql> Sql for Metered<S> {
    async fn batch(&self, statements: &[Statement]) -> Result<Vec<Outcome>, DbError> {
        self.count(&DbCounts {
            round_trips: 1,
            statements: statements.len() as u32,
            ..DbCounts::default()
        });
        let outcomes = self.inner.batch(statements).await?;
        self.count(&DbCounts {
            rows_returned: outcomes.iter().map(|o| o.rows.len() as u64).sum(),
            changes: outcomes.iter().map(|o| o.changes).sum(),
            rows_read: outcomes.iter().map(|o| o.rows_read).sum(),
            rows_written: outcomes.iter().map(|o| o.rows_written).sum(),
            ..DbCounts::default()
        });
        Ok(outcomes)
    }
}
