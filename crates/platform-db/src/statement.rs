//! Statements: SQL and its parameters, and the table a statement writes, so that the database
//! can refuse a write before it runs. Only this crate builds them: all SQL lives here.

use std::borrow::Cow;

use crate::tables::Table;
use crate::value::Value;

/// D1's limit on bound parameters per statement.
pub const MAX_PARAMS: usize = 100;

/// One statement, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    sql: Cow<'static, str>,
    params: Vec<Value>,
    writes: Option<&'static Table>,
}

impl Statement {
    /// A statement that only reads.
    pub(crate) fn read(sql: impl Into<Cow<'static, str>>, params: Vec<Value>) -> Self {
        Self {
            sql: sql.into(),
            params,
            writes: None,
        }
    }

    /// A statement that writes `table` (and may return rows, with `RETURNING`).
    pub(crate) fn write(
        table: &'static Table,
        sql: impl Into<Cow<'static, str>>,
        params: Vec<Value>,
    ) -> Self {
        Self {
            sql: sql.into(),
            params,
            writes: Some(table),
        }
    }

    pub fn sql(&self) -> &str {
        &self.sql
    }

    pub fn params(&self) -> &[Value] {
        &self.params
    }

    pub fn writes(&self) -> Option<&'static Table> {
        self.writes
    }
}

/// `?, ?, ?` for `n` parameters.
pub(crate) fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// `head VALUES (?, ..), (?, ..) tail` writing `table`, split into as many statements as D1's
/// parameter limit requires.
pub(crate) fn insert_rows(
    table: &'static Table,
    head: &str,
    rows: Vec<Vec<Value>>,
    tail: &str,
) -> Vec<Statement> {
    let Some(width) = rows.first().map(Vec::len) else {
        return Vec::new();
    };
    let row = format!("({})", placeholders(width));
    rows.chunks((MAX_PARAMS / width.max(1)).max(1))
        .map(|chunk| {
            let values = vec![row.as_str(); chunk.len()].join(", ");
            let params: Vec<Value> = chunk.iter().flatten().cloned().collect();
            Statement::write(table, format!("{head} VALUES {values} {tail}"), params)
        })
        .collect()
}

/// `head IN (?, ..) tail` over `keys` after `leading` parameters, split to respect the limit.
pub(crate) fn select_in(head: &str, leading: &[Value], keys: Vec<Value>, tail: &str) -> Vec<Statement> {
    keys.chunks(MAX_PARAMS - leading.len())
        .map(|chunk| {
            let params: Vec<Value> = leading.iter().chain(chunk).cloned().collect();
            Statement::read(
                format!("{head} IN ({}) {tail}", placeholders(chunk.len())),
                params,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::FEATURE_HEALTH;

    #[test]
    fn rows_are_split_under_the_parameter_limit() {
        let rows: Vec<Vec<Value>> = (0..120).map(|i| vec![Value::from(i), Value::from(i)]).collect();
        let statements = insert_rows(
            &FEATURE_HEALTH,
            "INSERT INTO feature_health (feature_key, last_heartbeat)",
            rows,
            "",
        );
        assert_eq!(statements.len(), 3);
        assert!(statements.iter().all(|s| s.params().len() <= MAX_PARAMS));
        assert_eq!(statements.iter().map(|s| s.params().len()).sum::<usize>(), 240);
    }

    #[test]
    fn key_lists_leave_room_for_leading_parameters() {
        let keys: Vec<Value> = (0..250).map(Value::from).collect();
        let statements = select_in("SELECT 1 WHERE a = ? AND b", &[Value::Null], keys, "");
        assert_eq!(statements.len(), 3);
        assert!(statements.iter().all(|s| s.params().len() <= MAX_PARAMS));
    }
}
