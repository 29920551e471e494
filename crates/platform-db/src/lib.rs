//! `PLATFORM_DB` as code, as `platform-kv` is for `PLATFORM_CACHE`: every table declared once
//! ([`tables`]), typed values and rows, statements that only this crate writes, the [`Sql`]
//! trait with a D1 backend (`d1` feature) and an in-memory SQLite twin (`sqlite` feature) that
//! applies the real migrations, so the ledgers and claims are tested natively.

pub mod account;
pub mod alerts;
pub mod config;
pub mod db;
#[cfg(not(target_arch = "wasm32"))]
pub mod docs;
pub mod error;
pub mod errors;
pub mod handlers;
pub mod metered;
pub mod notifications;
pub mod patterns;
pub mod retention;
pub mod row;
pub mod sentinel;
pub mod sql;
pub mod statement;
pub mod tables;
pub mod usage;
pub mod value;

#[cfg(feature = "d1")]
pub mod d1;
#[cfg(feature = "sqlite")]
pub mod sqlite;

pub use db::{decode, Db};
pub use error::{DbError, DbErrorKind};
pub use metered::{DbCounts, Metered};
pub use row::{FromRow, Row};
pub use sql::{Outcome, Sql};
pub use statement::Statement;
pub use tables::{DocText, Retention, Table, Writers, TABLES};
pub use value::{FromValue, Value};
