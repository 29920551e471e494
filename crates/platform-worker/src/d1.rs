//! D1 helpers: parameters, multi-row statements within D1's limit of 100 bound parameters, and
//! batches, which D1 runs as one transaction in one round trip.

use serde::de::DeserializeOwned;
use worker::wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, D1Result};

use crate::response::ApiError;

/// D1's limit on bound parameters per statement.
pub const MAX_PARAMS: usize = 100;

pub fn text(value: &str) -> JsValue {
    JsValue::from_str(value)
}

/// A number. D1 has no 64-bit integers on this path: JS numbers are exact to 2^53.
pub fn number(value: impl Into<f64>) -> JsValue {
    JsValue::from_f64(value.into())
}

pub fn ms(value: u64) -> JsValue {
    JsValue::from_f64(value as f64)
}

pub fn optional_ms(value: Option<u64>) -> JsValue {
    value.map_or(JsValue::NULL, ms)
}

pub fn optional_text(value: Option<&str>) -> JsValue {
    value.map_or(JsValue::NULL, text)
}

pub fn flag(value: bool) -> JsValue {
    number(u8::from(value))
}

/// `?, ?, ?` for `n` parameters.
pub fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// One statement.
pub fn statement(db: &D1Database, sql: &str, params: &[JsValue]) -> Result<D1PreparedStatement, ApiError> {
    db.prepare(sql)
        .bind(params)
        .map_err(|e| ApiError::internal("binding D1 parameters", e))
}

/// `head VALUES (?, ..), (?, ..) tail` over `rows`, split into as many statements as D1's parameter
/// limit requires.
pub fn rows_statements(
    db: &D1Database,
    head: &str,
    rows: &[Vec<JsValue>],
    tail: &str,
) -> Result<Vec<D1PreparedStatement>, ApiError> {
    let Some(width) = rows.first().map(Vec::len) else {
        return Ok(Vec::new());
    };
    let row = format!("({})", placeholders(width));
    rows.chunks((MAX_PARAMS / width.max(1)).max(1))
        .map(|chunk| {
            let values = vec![row.as_str(); chunk.len()].join(", ");
            let params: Vec<JsValue> = chunk.iter().flatten().cloned().collect();
            statement(db, &format!("{head} VALUES {values} {tail}"), &params)
        })
        .collect()
}

/// `head IN (?, ..) tail` over `keys` (after `leading` parameters), split to respect the limit.
pub fn in_statements(
    db: &D1Database,
    head: &str,
    leading: &[JsValue],
    keys: &[JsValue],
    tail: &str,
) -> Result<Vec<D1PreparedStatement>, ApiError> {
    keys.chunks(MAX_PARAMS - leading.len())
        .map(|chunk| {
            let params: Vec<JsValue> = leading.iter().chain(chunk).cloned().collect();
            statement(
                db,
                &format!("{head} IN ({}) {tail}", placeholders(chunk.len())),
                &params,
            )
        })
        .collect()
}

/// Runs statements as one transaction in one round trip. Nothing is written if one fails.
pub async fn batch(db: &D1Database, statements: Vec<D1PreparedStatement>) -> Result<Vec<D1Result>, ApiError> {
    if statements.is_empty() {
        return Ok(Vec::new());
    }
    db.batch(statements)
        .await
        .map_err(|e| ApiError::internal("D1 batch", e))
}

/// The rows a query returns; `what` names it in errors.
pub async fn query<T: DeserializeOwned>(
    db: &D1Database,
    what: &str,
    sql: &str,
    params: &[JsValue],
) -> Result<Vec<T>, ApiError> {
    let result = statement(db, sql, params)?
        .all()
        .await
        .map_err(|e| ApiError::internal(what, e))?;
    rows(&result)
}

/// The first row a query returns, if any.
pub async fn query_first<T: DeserializeOwned>(
    db: &D1Database,
    what: &str,
    sql: &str,
    params: &[JsValue],
) -> Result<Option<T>, ApiError> {
    statement(db, sql, params)?
        .first(None)
        .await
        .map_err(|e| ApiError::internal(what, e))
}

/// Runs one writing statement.
pub async fn execute(db: &D1Database, what: &str, sql: &str, params: &[JsValue]) -> Result<(), ApiError> {
    statement(db, sql, params)?
        .run()
        .await
        .map(|_| ())
        .map_err(|e| ApiError::internal(what, e))
}

/// The rows of a result.
pub fn rows<T: DeserializeOwned>(result: &D1Result) -> Result<Vec<T>, ApiError> {
    result
        .results()
        .map_err(|e| ApiError::internal("reading D1 rows", e))
}

/// The rows of several results (the chunks of one logical query).
pub fn all_rows<T: DeserializeOwned>(results: &[D1Result]) -> Result<Vec<T>, ApiError> {
    let mut all = Vec::new();
    for result in results {
        all.extend(rows(result)?);
    }
    Ok(all)
}
