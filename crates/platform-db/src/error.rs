//! What can go wrong with the database, without HTTP in it: the edge decides the status.

use std::fmt;

/// Why a database operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbErrorKind {
    /// A worker tried to write a table it does not own: a bug, refused before anything ran.
    Refused,
    /// A statement could not be bound (a value out of D1's range) or built.
    Invalid,
    /// The database answered with an error, or could not be reached.
    Backend,
    /// A row did not have the shape its type declares.
    Decode,
}

/// A database failure, with what was being done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbError {
    pub kind: DbErrorKind,
    /// What was being done ("reading the usage snapshot").
    pub context: String,
    pub detail: String,
}

impl DbError {
    pub fn new(kind: DbErrorKind, context: impl Into<String>, detail: impl fmt::Display) -> Self {
        Self {
            kind,
            context: context.into(),
            detail: detail.to_string(),
        }
    }

    pub fn backend(context: impl Into<String>, detail: impl fmt::Display) -> Self {
        Self::new(DbErrorKind::Backend, context, detail)
    }

    pub fn decode(context: impl Into<String>, detail: impl fmt::Display) -> Self {
        Self::new(DbErrorKind::Decode, context, detail)
    }

    /// The same error, said to have happened while doing `context`.
    pub fn during(mut self, context: &str) -> Self {
        self.context = if self.context.is_empty() {
            context.to_owned()
        } else {
            format!("{context}: {}", self.context)
        };
        self
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.context, self.detail)
    }
}

impl std::error::Error for DbError {}
