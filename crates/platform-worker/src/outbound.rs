//! Requests a platform worker sends to services outside the account (Slack, GitHub, Access
//! certs): each says who sends it, as those services ask, and each is given a time limit, so a
//! service that hangs cannot hold a handler until the runtime's own limit.

use worker::{AbortSignal, Fetch, Headers, Method, Request, Response};

/// The platform's User-Agent.
pub const USER_AGENT: &str = concat!("workers-cost-guard/", env!("CARGO_PKG_VERSION"));

/// How long an outbound call may take, the answer's body included, unless the caller says.
pub const TIMEOUT_MS: u32 = 10_000;

/// Headers with the platform's User-Agent set.
pub fn headers() -> Result<Headers, String> {
    let headers = Headers::new();
    headers.set("User-Agent", USER_AGENT).map_err(|e| e.to_string())?;
    Ok(headers)
}

/// A request with these headers and body, built on the runtime's own `RequestInit`: worker's
/// `RequestInit` conversion carries every `cf` option (image resizing among them), several KB of
/// each worker's wasm for options the platform never sets.
pub fn request(method: Method, url: &str, headers: Headers, body: Option<String>) -> Result<Request, String> {
    let init = worker::web_sys::RequestInit::new();
    init.set_method(method.as_ref());
    init.set_headers(&headers.0);
    if let Some(body) = body {
        init.set_body(&body.into());
    }
    worker::web_sys::Request::new_with_str_and_init(url, &init)
        .map(Request::from)
        .map_err(|e| {
            e.as_string()
                .unwrap_or_else(|| format!("{url} is not a valid request URL"))
        })
}

/// A call that got no answer: the time ran out, or the runtime refused the fetch.
#[derive(Debug)]
pub struct Unanswered {
    pub timed_out: bool,
    pub reason: String,
}

impl From<Unanswered> for String {
    fn from(unanswered: Unanswered) -> Self {
        unanswered.reason
    }
}

/// Sends `request`, counted as a subrequest and aborted after `timeout_ms` (reading the answer's
/// body too: the signal stays armed until it is read).
pub async fn send(request: Request, timeout_ms: u32) -> Result<Response, Unanswered> {
    crate::footprint::subrequest();
    let signal = AbortSignal::from(worker::web_sys::AbortSignal::timeout_with_u32(timeout_ms));
    Fetch::Request(request)
        .send_with_signal(&signal)
        .await
        .map_err(|e| {
            let timed_out = signal.aborted();
            let reason = if timed_out {
                format!("no answer within {} s", timeout_ms / 1000)
            } else {
                e.to_string()
            };
            Unanswered { timed_out, reason }
        })
}
