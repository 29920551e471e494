//! A row as the backends return it, and typed rows read from it by column name.

use crate::value::{FromValue, Value};

/// One result row: column names and values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    columns: Vec<(String, Value)>,
}

impl Row {
    pub fn new(columns: Vec<(String, Value)>) -> Self {
        Self { columns }
    }

    pub fn value(&self, column: &str) -> Option<&Value> {
        self.columns
            .iter()
            .find(|(name, _)| name == column)
            .map(|(_, value)| value)
    }

    /// The column as `T`; the error names the column and what it held.
    pub fn get<T: FromValue>(&self, column: &str) -> Result<T, String> {
        let value = self.value(column).unwrap_or(&Value::Null);
        T::from_value(value).map_err(|e| format!("column {column}: {e}"))
    }

    /// A text column parsed by the domain's own parser (an enum, a key).
    pub fn parse<T>(&self, column: &str, parse: impl FnOnce(&str) -> Option<T>) -> Result<T, String> {
        let text: String = self.get(column)?;
        parse(&text).ok_or_else(|| format!("column {column}: {text:?} is not valid"))
    }
}

/// A typed row.
pub trait FromRow: Sized {
    fn from_row(row: &Row) -> Result<Self, String>;
}

impl FromRow for Row {
    fn from_row(row: &Row) -> Result<Self, String> {
        Ok(row.clone())
    }
}
