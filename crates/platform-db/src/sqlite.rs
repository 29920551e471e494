//! The native twin of D1: an in-memory SQLite with the real migrations applied, so the ledgers,
//! claims and retention are tested with `cargo test`. A batch is one transaction, as in D1.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use rusqlite::types::{Value as SqliteValue, ValueRef};
use rusqlite::Connection;

use crate::error::DbError;
use crate::row::Row;
use crate::sql::{Outcome, Sql};
use crate::statement::Statement;
use crate::value::Value;

/// The migrations every worker's database is created from.
pub fn migrations_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../wrangler/migrations")
}

/// The migration files, in the order wrangler applies them.
pub fn migration_files() -> Result<Vec<PathBuf>, DbError> {
    let dir = migrations_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| DbError::backend(format!("reading {}", dir.display()), e))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "sql"))
        .collect();
    files.sort();
    Ok(files)
}

/// One database, shared by every handle cloned from it (two workers, two invocations).
#[derive(Clone)]
pub struct Sqlite {
    connection: Rc<RefCell<Connection>>,
}

impl Sqlite {
    /// An empty in-memory database with every migration applied.
    pub fn migrated() -> Result<Self, DbError> {
        let connection = Connection::open_in_memory().map_err(|e| DbError::backend("opening SQLite", e))?;
        for file in migration_files()? {
            let sql = std::fs::read_to_string(&file)
                .map_err(|e| DbError::backend(format!("reading {}", file.display()), e))?;
            connection
                .execute_batch(&sql)
                .map_err(|e| DbError::backend(format!("applying {}", file.display()), e))?;
        }
        Ok(Self {
            connection: Rc::new(RefCell::new(connection)),
        })
    }

    /// Runs raw SQL, for a test's own setup and inspection.
    pub fn execute(&self, sql: &str) -> Result<(), DbError> {
        self.connection
            .borrow()
            .execute_batch(sql)
            .map_err(|e| DbError::backend("test SQL", e))
    }

    /// The rows of a test's own query.
    pub fn select(&self, sql: &str) -> Result<Vec<Row>, DbError> {
        let connection = self.connection.borrow();
        run(&connection, &Statement::read(sql.to_owned(), Vec::new())).map(|o| o.rows)
    }

    /// SQLite's plan for a statement, one line per step (`SCAN …`, `SEARCH … USING INDEX …`).
    pub fn plan(&self, statement: &Statement) -> Result<Vec<String>, DbError> {
        let connection = self.connection.borrow();
        let explain = Statement::read(
            format!("EXPLAIN QUERY PLAN {}", statement.sql()),
            statement.params().to_vec(),
        );
        let rows = run(&connection, &explain)?.rows;
        rows.iter()
            .map(|row| {
                row.get::<String>("detail")
                    .map_err(|e| DbError::decode("query plan", e))
            })
            .collect()
    }
}

fn to_sqlite(value: &Value) -> SqliteValue {
    match value {
        Value::Null => SqliteValue::Null,
        Value::Integer(n) => SqliteValue::Integer(*n),
        Value::Real(x) => SqliteValue::Real(*x),
        Value::Text(s) => SqliteValue::Text(s.clone()),
    }
}

fn from_sqlite(value: ValueRef<'_>) -> Value {
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(n) => Value::Integer(n),
        ValueRef::Real(x) => Value::Real(x),
        ValueRef::Text(bytes) | ValueRef::Blob(bytes) => {
            Value::Text(String::from_utf8_lossy(bytes).into_owned())
        }
    }
}

fn run(connection: &Connection, statement: &Statement) -> Result<Outcome, DbError> {
    let failed = |e: rusqlite::Error| DbError::backend(statement.sql().to_owned(), e);
    let before = connection.total_changes();
    let mut prepared = connection.prepare(statement.sql()).map_err(failed)?;
    let names: Vec<String> = prepared.column_names().map(str::to_owned).collect();
    let params = rusqlite::params_from_iter(statement.params().iter().map(to_sqlite));
    let mut rows = prepared.query(params).map_err(failed)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(failed)? {
        let mut columns = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            columns.push((name.clone(), from_sqlite(row.get_ref(i).map_err(failed)?)));
        }
        out.push(Row::new(columns));
    }
    drop(rows);
    Ok(Outcome {
        rows: out,
        changes: connection.total_changes().saturating_sub(before),
        ..Outcome::default()
    })
}

impl Sql for Sqlite {
    async fn batch(&self, statements: &[Statement]) -> Result<Vec<Outcome>, DbError> {
        let connection = self.connection.borrow();
        connection
            .execute_batch("BEGIN")
            .map_err(|e| DbError::backend("BEGIN", e))?;
        let result: Result<Vec<Outcome>, DbError> = statements.iter().map(|s| run(&connection, s)).collect();
        let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
        connection
            .execute_batch(end)
            .map_err(|e| DbError::backend(end, e))?;
        result
    }
}
