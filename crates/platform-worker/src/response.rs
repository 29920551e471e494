//! JSON responses and errors. Errors say what was wrong without leaking internals: the domain
//! fails with its own errors (`DbError`, `StoreError`), which become an `ApiError` only here, at
//! the edge, where a failure of the platform itself is logged once, with its detail.

use std::fmt;

use serde::Serialize;
use serde_json::json;
use worker::Response;

/// An error answered as `{"error": message}` with its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
    /// What went wrong inside, for the log only: never answered.
    pub detail: Option<String>,
}

impl ApiError {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            detail: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(503, message)
    }

    /// A failure of the platform itself: answered briefly, logged in full where it is answered.
    pub fn internal(context: &str, error: impl fmt::Display) -> Self {
        Self {
            detail: Some(error.to_string()),
            ..Self::new(500, format!("{context} failed"))
        }
    }

    /// Logs the error with its detail and gives its message, for a report or a stamp that carries
    /// only the message (what `/health` may show).
    pub fn log_message(self) -> String {
        worker::console_error!("{self}");
        self.message
    }

    /// The answer to a handler's failure: a failure of the platform (5xx) is logged here, once.
    pub fn answer(self) -> worker::Result<Response> {
        if self.status >= 500 {
            worker::console_error!("{} {self}", self.status);
        }
        self.into_response()
    }

    /// The answer, unlogged: a refusal or a miss of the edge itself (401, 403, 404, 405).
    pub fn into_response(self) -> worker::Result<Response> {
        json_response(self.status, &json!({ "error": self.message }))
    }
}

/// The message and, when there is one, the detail: what a log line says.
impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.detail {
            Some(detail) => write!(f, "{}: {detail}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ApiError {}

/// A JSON body with a status.
pub fn json_response<T: Serialize>(status: u16, body: &T) -> worker::Result<Response> {
    Ok(Response::from_json(body)?.with_status(status))
}

/// Answers a handler's result: the value as JSON with 200, or the error.
pub fn respond<T: Serialize>(result: Result<T, ApiError>) -> worker::Result<Response> {
    match result {
        Ok(body) => json_response(200, &body),
        Err(error) => error.answer(),
    }
}

impl From<platform_kv::StoreError> for ApiError {
    fn from(error: platform_kv::StoreError) -> Self {
        Self::internal("PLATFORM_CACHE", error)
    }
}

impl From<platform_kv::KeyError> for ApiError {
    fn from(error: platform_kv::KeyError) -> Self {
        Self::bad_request(error.to_string())
    }
}

impl From<platform_db::DbError> for ApiError {
    /// A database failure is the platform's own: logged in full, answered as a 500.
    fn from(error: platform_db::DbError) -> Self {
        Self::internal(&error.context, &error.detail)
    }
}
