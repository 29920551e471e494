//! JSON responses and errors. Errors say what was wrong without leaking internals.

use serde::Serialize;
use serde_json::json;
use worker::Response;

/// An error answered as `{"error": message}` with its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
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

    /// A failure of the platform itself: logged in full, answered briefly.
    pub fn internal(context: &str, error: impl std::fmt::Display) -> Self {
        worker::console_error!("{context}: {error}");
        Self::new(500, format!("{context} failed"))
    }

    pub fn into_response(self) -> worker::Result<Response> {
        json_response(self.status, &json!({ "error": self.message }))
    }
}

/// A JSON body with a status.
pub fn json_response<T: Serialize>(status: u16, body: &T) -> worker::Result<Response> {
    Ok(Response::from_json(body)?.with_status(status))
}

/// Answers a handler's result: the value as JSON with 200, or the error.
pub fn respond<T: Serialize>(result: Result<T, ApiError>) -> worker::Result<Response> {
    match result {
        Ok(body) => json_response(200, &body),
        Err(error) => error.into_response(),
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
