//! The worker skeleton: one declaration per worker of who it is ([`WorkerInfo`]), its routes (one
//! table: method, path pattern, auth, handler) and its handlers with their triggers (a cron, a
//! queue named by a wrangler var, the tail). From it the skeleton serves `GET /health`, answers
//! JSON 404 and 405, checks auth before a handler runs, dispatches crons, queue batches and tail
//! events to the declared handler, and stamps every handler run in `handler_runs`.
//!
//! ```ignore
//! static WORKER: WorkerSpec = WorkerSpec {
//!     info: INFO,
//!     routes: &[Route::new(Method::Get, "/status", Auth::Admin, |cx| Box::pin(status(cx)))],
//!     handlers: &[Handler::cron("sweep", "*/5 * * * *", |env, at| Box::pin(sweep(env, at)))],
//!     unexpected_queue: None,
//! };
//! #[event(fetch)]
//! async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
//!     WORKER.fetch(req, env).await
//! }
//! ```

pub mod routes;
pub mod triggers;
pub mod wiring;

use std::future::Future;
use std::ops::RangeInclusive;
use std::pin::Pin;

use platform_core::handlers::HandlerSpec;
use platform_db::{Db, Sql, Statement};
use platform_kv::PlatformWorker;
use serde::de::DeserializeOwned;
use serde::Serialize;
use worker::wasm_bindgen::JsValue;
use worker::{Env, MessageBatch, MessageExt, Method, RawMessage, Request, Response, ScheduledEvent};

pub use triggers::Trigger;

use crate::footprint::Footprint;
use crate::health::Health;
use crate::response::json_response;
use crate::{auth, body, handlers, ApiError, WorkerInfo};
use routes::Match;

/// A future of the single-threaded Workers runtime.
pub type LocalFuture<T> = Pin<Box<dyn Future<Output = T>>>;
/// What a route answers: a response, or an error answered as `{"error": …}` with its status.
pub type Reply = Result<Response, ApiError>;

/// Who may call a route; checked before its handler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// Anyone (`/health`).
    None,
    /// `Authorization: Bearer <ADMIN_TOKEN>`: 401 without it, 403 with a wrong one.
    Admin,
    /// The handler authenticates the request itself by its signature (a GitHub webhook).
    Signature,
    /// `Authorization: Bearer <secret>` with the named secret, shared with the workers that call
    /// the route (`NOTIFY_TOKEN` of the inbox's producers): as [`Auth::Admin`], for another secret.
    Bearer(&'static str),
    /// A person, identified by the handler before it does anything else (the inbox: a verified
    /// Cloudflare Access JWT or a personal token); the skeleton cannot know a worker's people.
    Person,
}

/// One row of the route table.
#[derive(Debug)]
pub struct Route {
    pub method: Method,
    /// Literal segments and `:name` parameters: `/features/:key/usage`.
    pub path: &'static str,
    pub auth: Auth,
    pub handler: fn(Cx) -> LocalFuture<Reply>,
}

impl Route {
    pub const fn new(
        method: Method,
        path: &'static str,
        auth: Auth,
        handler: fn(Cx) -> LocalFuture<Reply>,
    ) -> Self {
        Self {
            method,
            path,
            auth,
            handler,
        }
    }
}

/// A request as a route's handler gets it: authenticated, with its path parameters decoded.
pub struct Cx {
    pub req: Request,
    pub env: Env,
    pub now: u64,
    pub worker: &'static WorkerSpec,
    params: Vec<(&'static str, String)>,
}

/// The query of a serialised URL: after the first `?`, before the fragment (a WHATWG URL
/// percent-encodes `?` and `#` in its path, so the first of each starts the query and fragment).
fn query_of(url: &str) -> &str {
    let without_fragment = url.split('#').next().unwrap_or_default();
    without_fragment.split_once('?').map_or("", |(_, query)| query)
}

impl Cx {
    /// The percent-decoded path parameter `name` of the route's pattern.
    pub fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(key, _)| *key == name)
            .map_or("", |(_, value)| value.as_str())
    }

    /// The query's `(name, value)` pairs, decoded. Read from the URL as the runtime serialised
    /// it, without parsing the whole URL again: the `url` crate would cost the wasm ~10 KB gzip.
    fn query_pairs(&self) -> Vec<(String, String)> {
        let url = self.req.inner().url();
        let query = query_of(&url);
        form_urlencoded::parse(query.as_bytes()).into_owned().collect()
    }

    /// The first value of query parameter `name`, decoded.
    pub fn query(&self, name: &str) -> Result<Option<String>, ApiError> {
        let value = self
            .query_pairs()
            .into_iter()
            .find(|(key, _)| key == name)
            .map(|(_, v)| v);
        Ok(value)
    }

    /// A whole-number query parameter within `range`, `default` when absent.
    pub fn query_u32(&self, name: &str, default: u32, range: RangeInclusive<u32>) -> Result<u32, ApiError> {
        match self.query(name)? {
            None => Ok(default),
            Some(value) => value
                .parse::<u32>()
                .ok()
                .filter(|n| range.contains(n))
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "{name} must be a whole number from {} to {}",
                        range.start(),
                        range.end()
                    ))
                }),
        }
    }

    /// Whether the query sets `name` to `1` or `true`.
    pub fn query_flag(&self, name: &str) -> bool {
        self.query_pairs()
            .iter()
            .any(|(key, value)| key == name && matches!(value.as_str(), "1" | "true"))
    }

    /// The body as text, at most `limit` bytes (413 past it; a declared length is checked before
    /// anything is read), UTF-8 (400 otherwise).
    pub async fn text(&mut self, limit: usize) -> Result<String, ApiError> {
        let declared = self.req.headers().get("Content-Length").ok().flatten();
        if let Some(declared) = declared.and_then(|length| length.trim().parse::<usize>().ok()) {
            body::check_size(declared, limit)?;
        }
        let bytes = self
            .req
            .bytes()
            .await
            .map_err(|e| ApiError::bad_request(format!("unreadable body: {e}")))?;
        body::text(bytes, limit)
    }

    /// The JSON body as `T` (at most [`body::MAX_BODY_BYTES`]); an empty body reads as `{}`.
    pub async fn json<T: DeserializeOwned>(&mut self) -> Result<T, ApiError> {
        let text = self.text(body::MAX_BODY_BYTES).await?;
        body::json(&text)
    }
}

/// `body` as JSON with 200.
pub fn ok<T: Serialize>(body: &T) -> Reply {
    reply(200, body)
}

/// `body` as JSON with `status`.
pub fn reply<T: Serialize>(status: u16, body: &T) -> Reply {
    json_response(status, body).map_err(|e| ApiError::internal("encoding a response", e))
}

/// A queue batch, for a queue handler to settle message by message.
pub struct Batch {
    pub queue: String,
    pub messages: Vec<RawMessage>,
    pub env: Env,
    pub now: u64,
    pub stamp: Stamp,
}

/// A batch of tail events, as the runtime hands them to the worker.
pub struct TailBatch {
    pub events: JsValue,
    pub env: Env,
    pub now: u64,
    pub stamp: Stamp,
}

/// What a handler run did: its report, logged as one JSON line, and why it failed, if it did
/// (the stamp's error).
#[derive(Debug, Default)]
pub struct Outcome {
    report: Option<String>,
    failure: Option<String>,
    /// What the log adds to the failure (never stamped: `/health` shows only the failure).
    detail: Option<String>,
}

impl Outcome {
    pub fn new<T: Serialize>(report: &T, failure: Option<String>) -> Self {
        Self {
            report: serde_json::to_string(report).ok().filter(|json| json != "null"),
            failure,
            detail: None,
        }
    }

    /// A run that did its job (or settled its failures itself).
    pub fn report<T: Serialize>(report: &T) -> Self {
        Self::new(report, None)
    }

    /// The report of an `Ok`, the message of an `Err`.
    pub fn of<T: Serialize>(result: Result<T, ApiError>) -> Self {
        match result {
            Ok(report) => Self::report(&report),
            Err(error) => Self {
                report: None,
                failure: Some(error.message),
                detail: error.detail,
            },
        }
    }

    pub fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }
}

#[derive(Clone, Copy)]
enum Run {
    Cron(fn(Env, u64) -> LocalFuture<Outcome>),
    Queue(fn(Batch) -> LocalFuture<Outcome>),
    Tail(fn(TailBatch) -> LocalFuture<Outcome>),
}

/// A handler, its trigger and its body: one declaration gives dispatch, the stamp and the spec
/// `/health` holds it to.
#[derive(Clone, Copy)]
pub struct Handler {
    pub name: &'static str,
    pub trigger: Trigger,
    run: Run,
    stamps_itself: bool,
}

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handler")
            .field("name", &self.name)
            .field("trigger", &self.trigger)
            .field("stamps_itself", &self.stamps_itself)
            .finish()
    }
}

impl Handler {
    /// Runs at each `expression` of the worker's `[triggers] crons`, with the scheduled time.
    pub const fn cron(
        name: &'static str,
        expression: &'static str,
        run: fn(Env, u64) -> LocalFuture<Outcome>,
    ) -> Self {
        Self {
            name,
            trigger: Trigger::Cron(expression),
            run: Run::Cron(run),
            stamps_itself: false,
        }
    }

    /// Runs for each batch of the queue named by the value of wrangler var `var`.
    pub const fn queue(
        name: &'static str,
        var: &'static str,
        run: fn(Batch) -> LocalFuture<Outcome>,
    ) -> Self {
        Self {
            name,
            trigger: Trigger::Queue { var },
            run: Run::Queue(run),
            stamps_itself: false,
        }
    }

    /// Runs for each batch of tail events.
    pub const fn tail(name: &'static str, run: fn(TailBatch) -> LocalFuture<Outcome>) -> Self {
        Self {
            name,
            trigger: Trigger::Tail,
            run: Run::Tail(run),
            stamps_itself: false,
        }
    }

    /// The handler stamps its own runs with the [`Stamp`] it is given (a busy handler sends its
    /// stamp in its own D1 batch); the skeleton does not stamp it.
    pub const fn stamps_itself(self) -> Self {
        Self {
            stamps_itself: true,
            ..self
        }
    }

    pub fn spec(&self) -> HandlerSpec {
        self.trigger.spec(self.name)
    }
}

/// A handler's stamp in `handler_runs`, for a handler that stamps itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub worker: PlatformWorker,
    pub handler: &'static str,
}

impl Stamp {
    /// The stamp of a successful run of a busy handler when one is due, for its own D1 batch.
    pub fn busy<S: Sql>(self, db: &Db<S>, now: u64) -> Option<Statement> {
        handlers::busy_stamp(db, self.handler, now)
    }

    /// Records a run on its own; `error` says why it failed. Without the database only the stamp
    /// is lost.
    pub async fn record(self, env: &Env, error: Option<&str>, now: u64) {
        if let Ok(db) = crate::db(env, self.worker) {
            self.record_in(&db, error, now).await;
        }
    }

    /// [`Stamp::record`] with the worker's database already open.
    pub async fn record_in<S: Sql>(self, db: &Db<S>, error: Option<&str>, now: u64) {
        handlers::record(db, self.handler, error, now).await;
    }
}

/// A worker, declared once.
#[derive(Debug)]
pub struct WorkerSpec {
    pub info: WorkerInfo,
    /// Matched in order. `GET /health` is served unless the table has its own.
    pub routes: &'static [Route],
    /// In order: handlers of the same cron run one after the other, each stamped as it ends.
    pub handlers: &'static [Handler],
    /// The queue handler of a batch from a queue no declared var names (logged as an error);
    /// without one, its messages are retried.
    pub unexpected_queue: Option<&'static Handler>,
}

impl WorkerSpec {
    /// Every handler's spec, in declaration order.
    pub fn specs(&self) -> Vec<HandlerSpec> {
        self.handlers.iter().map(Handler::spec).collect()
    }

    pub fn stamp(&self, handler: &Handler) -> Stamp {
        Stamp {
            worker: self.info.id,
            handler: handler.name,
        }
    }

    /// The `fetch` event: routes, auth, and the JSON 404 and 405.
    ///
    /// Inlined into the worker's entry, where the declaration is a constant: a worker without
    /// routes or handlers then carries none of their code (auth, the handlers' health).
    #[inline(always)]
    pub fn fetch(&'static self, req: Request, env: Env) -> LocalFuture<worker::Result<Response>> {
        if self.routes.is_empty() && self.handlers.is_empty() {
            Box::pin(self.fetch_health_only(req, env))
        } else {
            Box::pin(self.fetch_routed(req, env))
        }
    }

    async fn fetch_health_only(&'static self, req: Request, env: Env) -> worker::Result<Response> {
        let method = req.method();
        let path = req.path();
        match (path.trim_matches('/') == "health", method == Method::Get) {
            (true, true) => Health::of(&self.info, &env).respond(),
            (true, false) => not_allowed(&method, &path, &[Method::Get]),
            (false, _) => ApiError::not_found(format!("no route for {method} {path}")).into_response(),
        }
    }

    async fn fetch_routed(&'static self, req: Request, env: Env) -> worker::Result<Response> {
        let now = worker::Date::now().as_millis();
        let method = req.method();
        let path = req.path();
        let (route, params) = match routes::find(self.routes, &method, &path) {
            Match::Found(route, params) => (route, params),
            Match::WrongMethod(allowed) => return not_allowed(&method, &path, &allowed),
            Match::NotFound if routes::params("/health", &path).is_some() => {
                return if method == Method::Get {
                    self.health(&env, now).await.respond()
                } else {
                    not_allowed(&method, &path, &[Method::Get])
                };
            }
            Match::NotFound => {
                return ApiError::not_found(format!("no route for {method} {path}")).into_response();
            }
        };
        let refused = match route.auth {
            Auth::Admin => auth::require_admin(&req, &env).err(),
            Auth::Bearer(secret) => auth::require_bearer(&req, &env, secret).err(),
            Auth::None | Auth::Signature | Auth::Person => None,
        };
        if let Some(refused) = refused {
            return refused.into_response();
        }
        let cx = Cx {
            req,
            env,
            now,
            worker: self,
            params,
        };
        let answer = match (route.handler)(cx).await {
            Ok(response) => Ok(response),
            Err(error) => error.answer(),
        };
        Footprint::log(self.info.id, route.path);
        answer
    }

    /// The common health report with the handlers' runs (read only when there are handlers).
    pub async fn health(&self, env: &Env, now: u64) -> Health {
        let health = Health::of(&self.info, env);
        if self.handlers.is_empty() {
            return health;
        }
        health.with_handlers(&self.info, env, &self.specs(), now).await
    }

    /// The `scheduled` event: every handler of the event's cron, in declaration order.
    pub async fn scheduled(&'static self, event: ScheduledEvent, env: Env) {
        let cron = event.cron();
        let at = event.schedule() as u64;
        let mut ran = false;
        for handler in self.handlers {
            if let (Trigger::Cron(expression), Run::Cron(run)) = (handler.trigger, handler.run) {
                if expression == cron {
                    ran = true;
                    let outcome = run(env.clone(), at).await;
                    self.finish(handler, &env, outcome, at).await;
                }
            }
        }
        if !ran {
            worker::console_error!("no work is scheduled for cron {cron:?}");
        }
    }

    /// The `queue` event: the handler whose var names the batch's queue. The handler settles
    /// every message; nothing is handed back to the runtime (an error would retry the batch).
    pub async fn queue<T>(&'static self, batch: MessageBatch<T>, env: Env) {
        let queue = batch.queue();
        let messages: Vec<RawMessage> = batch.raw_iter().collect();
        let value = |var: &str| env.var(var).ok().map(|v| v.to_string());
        let declared = self.handlers.iter().find(|handler| match handler.trigger {
            Trigger::Queue { var } => value(var).is_some_and(|name| name == queue),
            _ => false,
        });
        let handler = match declared {
            Some(handler) => handler,
            None => {
                let vars: Vec<String> = self
                    .handlers
                    .iter()
                    .filter_map(|handler| match handler.trigger {
                        Trigger::Queue { var } => Some(format!("{var}={:?}", value(var))),
                        _ => None,
                    })
                    .collect();
                worker::console_error!("batch from unexpected queue {queue} ({})", vars.join(", "));
                match self.unexpected_queue {
                    Some(fallback) => fallback,
                    None => {
                        messages.iter().for_each(|message| message.retry());
                        return;
                    }
                }
            }
        };
        let Run::Queue(run) = handler.run else {
            worker::console_error!("handler {} does not take queue batches", handler.name);
            return;
        };
        let now = worker::Date::now().as_millis();
        let batch = Batch {
            queue,
            messages,
            env: env.clone(),
            now,
            stamp: self.stamp(handler),
        };
        let outcome = run(batch).await;
        self.finish(handler, &env, outcome, now).await;
    }

    /// The tail events of a batch (called from the worker's JS tail entry).
    pub async fn tail(&'static self, events: JsValue, env: Env) {
        let Some((handler, run)) = self.handlers.iter().find_map(|handler| match handler.run {
            Run::Tail(run) => Some((handler, run)),
            _ => None,
        }) else {
            worker::console_error!("tail events arrived but no tail handler is declared");
            return;
        };
        let now = worker::Date::now().as_millis();
        let batch = TailBatch {
            events,
            env: env.clone(),
            now,
            stamp: self.stamp(handler),
        };
        let outcome = run(batch).await;
        self.finish(handler, &env, outcome, now).await;
    }

    /// Logs the run's report and failure, and stamps it unless the handler stamps itself.
    async fn finish(&self, handler: &Handler, env: &Env, outcome: Outcome, now: u64) {
        if let Some(report) = &outcome.report {
            worker::console_log!("{report}");
        }
        if let Some(failure) = &outcome.failure {
            let detail = outcome
                .detail
                .as_deref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default();
            worker::console_error!("handler {} failed: {failure}{detail}", handler.name);
        }
        if !handler.stamps_itself {
            self.stamp(handler).record(env, outcome.failure(), now).await;
        }
        Footprint::log(self.info.id, handler.name);
    }
}

/// 405 with the methods the path takes in `Allow`.
fn not_allowed(method: &Method, path: &str, allowed: &[Method]) -> worker::Result<Response> {
    let allow = allowed
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<&str>>()
        .join(", ");
    let mut response = ApiError::new(
        405,
        format!("{method} is not allowed on {path} (allowed: {allow})"),
    )
    .into_response()?;
    response.headers_mut().set("Allow", &allow)?;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::query_of;

    #[test]
    fn the_query_is_read_from_the_serialised_url() {
        for (url, query) in [
            ("https://w.example/sync?dry_run=1", "dry_run=1"),
            ("https://w.example/a%3Fb?days=7&x=%C3%A9#top", "days=7&x=%C3%A9"),
            ("https://w.example/a?b=1?c", "b=1?c"),
            ("https://w.example/a#f?g", ""),
            ("https://w.example/a", ""),
        ] {
            assert_eq!(query_of(url), query, "{url}");
        }
        let pairs: Vec<_> = form_urlencoded::parse(query_of("https://w.example/?x=%C3%A9+y&z").as_bytes())
            .into_owned()
            .collect();
        assert_eq!(pairs, [("x".into(), "é y".into()), ("z".into(), String::new())]);
    }
}
