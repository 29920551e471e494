//! The D1 backend: statements bound as JS values, a batch as `D1Database::batch` (one
//! transaction, one round trip), rows read back as the JS objects D1 returns.

use js_sys::{Array, Object};
use serde::Deserialize;
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::{D1Database, D1PreparedStatement};

use crate::error::{DbError, DbErrorKind};
use crate::row::Row;
use crate::sql::{Outcome, Sql};
use crate::statement::Statement;
use crate::value::{Value, MAX_SAFE_INTEGER};

/// `PLATFORM_DB` as a backend.
pub struct D1(pub D1Database);

fn param(value: &Value) -> Result<JsValue, String> {
    Ok(match value {
        Value::Null => JsValue::NULL,
        Value::Integer(n) if n.abs() <= MAX_SAFE_INTEGER => JsValue::from_f64(*n as f64),
        Value::Integer(n) => return Err(format!("{n} is beyond the integers D1 carries exactly")),
        Value::Real(x) => JsValue::from_f64(*x),
        Value::Text(s) => JsValue::from_str(s),
    })
}

fn prepare(db: &D1Database, statement: &Statement) -> Result<D1PreparedStatement, DbError> {
    let invalid = |e: String| DbError::new(DbErrorKind::Invalid, "binding D1 parameters", e);
    let params = statement
        .params()
        .iter()
        .map(param)
        .collect::<Result<Vec<_>, _>>()
        .map_err(invalid)?;
    db.prepare(statement.sql())
        .bind(&params)
        .map_err(|e| invalid(e.to_string()))
}

/// One row as D1 returns it, kept as a JS object.
#[derive(Deserialize)]
struct RawRow(#[serde(with = "serde_wasm_bindgen::preserve")] JsValue);

/// A JS value as the SQL value it was: whole numbers are integers (D1 sends every number as a
/// JS number).
fn value(js: JsValue) -> Value {
    if let Some(x) = js.as_f64() {
        return if x.fract() == 0.0 && x.abs() <= MAX_SAFE_INTEGER as f64 {
            Value::Integer(x as i64)
        } else {
            Value::Real(x)
        };
    }
    if let Some(text) = js.as_string() {
        return Value::Text(text);
    }
    if let Some(flag) = js.as_bool() {
        return Value::from(flag);
    }
    Value::Null
}

fn row(raw: RawRow) -> Row {
    let columns = Object::entries(raw.0.unchecked_ref::<Object>())
        .iter()
        .filter_map(|entry| {
            let pair = entry.dyn_into::<Array>().ok()?;
            Some((pair.get(0).as_string()?, value(pair.get(1))))
        })
        .collect();
    Row::new(columns)
}

impl Sql for D1 {
    async fn batch(&self, statements: &[Statement]) -> Result<Vec<Outcome>, DbError> {
        let prepared = statements
            .iter()
            .map(|s| prepare(&self.0, s))
            .collect::<Result<Vec<_>, _>>()?;
        let results = self
            .0
            .batch(prepared)
            .await
            .map_err(|e| DbError::backend("D1 batch", e))?;
        results
            .iter()
            .map(|result| {
                let objects: Vec<RawRow> = result
                    .results()
                    .map_err(|e| DbError::decode("reading D1 rows", e))?;
                let meta = result.meta().ok().flatten();
                let count = |n: Option<usize>| n.unwrap_or(0) as u64;
                Ok(Outcome {
                    rows: objects.into_iter().map(row).collect(),
                    changes: count(meta.as_ref().and_then(|m| m.changes)),
                    rows_read: count(meta.as_ref().and_then(|m| m.rows_read)),
                    rows_written: count(meta.as_ref().and_then(|m| m.rows_written)),
                })
            })
            .collect()
    }
}
