//! Requests a platform worker sends to services outside the account (Slack, Access certs): each
//! says who sends it, as those services ask.

use worker::Headers;

/// The platform's User-Agent.
pub const USER_AGENT: &str = concat!("workers-cost-guard/", env!("CARGO_PKG_VERSION"));

/// Headers with the platform's User-Agent set.
pub fn headers() -> Result<Headers, String> {
    let headers = Headers::new();
    headers.set("User-Agent", USER_AGENT).map_err(|e| e.to_string())?;
    Ok(headers)
}
