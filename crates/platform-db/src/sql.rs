//! The one operation every backend provides: run statements as one transaction in one round
//! trip. D1 (`d1` feature) serves the workers; SQLite (`sqlite` feature) serves native tests.

use crate::error::DbError;
use crate::row::Row;
use crate::statement::Statement;

/// What one statement of a batch did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// The rows it returned (`SELECT`, or `RETURNING`).
    pub rows: Vec<Row>,
    /// Rows it inserted, updated or deleted.
    pub changes: u64,
    /// Rows read and written as D1 bills them (index entries and scanned rows included). Only D1
    /// reports them: the SQLite twin leaves both at zero.
    pub rows_read: u64,
    pub rows_written: u64,
}

/// A database backend.
#[allow(async_fn_in_trait)] // Workers run on one thread: no `Send` bound is wanted.
pub trait Sql {
    /// Runs the statements in order, as one transaction in one round trip: all or nothing.
    async fn batch(&self, statements: &[Statement]) -> Result<Vec<Outcome>, DbError>;
}

impl<S: Sql> Sql for &S {
    async fn batch(&self, statements: &[Statement]) -> Result<Vec<Outcome>, DbError> {
        (*self).batch(statements).await
    }
}
