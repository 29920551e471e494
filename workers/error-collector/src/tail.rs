//! A tail batch: events read one by one (a malformed one is counted, not fatal; parts that cannot
//! be read are truncated), occurrences grouped per fingerprint, counts added in one D1 round
//! trip, then each fingerprint's issue kept. Events D1 refused, or past one run's budget of 100
//! fingerprints, wait on the collector's own queue and go through the same pipeline from there.

use std::collections::{BTreeMap, BTreeSet};

use platform_core::sorted::CollectSorted;
use platform_db::errors::tail_scripts;
use platform_errors::deferred::{self, MAX_GROUPS_PER_RUN};
use platform_errors::patterns::Patterns;
use platform_errors::sightings::sightings;
use platform_errors::{aggregate, capture, Occurrence, ScriptInfo, TailEvent, UNKNOWN_SCRIPT};
use platform_kv::families::{ApprovedPatterns, ScriptMap, ShadowPatterns};
use platform_kv::key::{Family, Key};
use platform_kv::value::{Json, JsonArray};
use platform_kv::{IsolateCache, IsolateCell};
use platform_worker::skeleton::{Batch, Stamp};
use worker::wasm_bindgen::closure::Closure;
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::{
    Env, MessageExt, QueueContentType, QueueRetryOptions, QueueRetryOptionsBuilder, RawMessageBuilder,
};

use crate::context::{Ctx, Report};
use crate::issues;
use crate::ledger::{fingerprints, Fingerprint};

/// The queue (binding and, in `ERROR_EVENTS_QUEUE` var, its name) on which counts wait that a
/// tail batch could not record.
pub const ERROR_EVENTS: &str = "ERROR_EVENTS";
pub const ERROR_EVENTS_QUEUE_VAR: &str = "ERROR_EVENTS_QUEUE";
/// How long a deferred message waits before D1 is tried again.
const RETRY_DELAY_S: u32 = 60;

/// How long an isolate trusts what it read from KV.
const SCRIPT_MAP_CACHE_MS: u64 = 60_000;
const PATTERNS_CACHE_MS: u64 = 300_000;

/// Scripts whose mapping one isolate keeps.
const MAX_SCRIPTS: usize = 2_000;

thread_local! {
    static SCRIPTS: IsolateCache<String, Option<ScriptInfo>> = const { IsolateCache::new(SCRIPT_MAP_CACHE_MS, MAX_SCRIPTS) };
    static PATTERNS: IsolateCell<Patterns> = const { IsolateCell::new(PATTERNS_CACHE_MS) };
    static SHADOW: IsolateCell<Patterns> = const { IsolateCell::new(PATTERNS_CACHE_MS) };
}

/// Nesting of a JS value taken apart field by field when it cannot be turned into JSON whole.
const FIELD_DEPTH: u32 = 3;

/// `value` as JSON text: BigInts become their digits followed by `n`; a part that cannot be
/// turned into JSON (a cycle) is taken apart field by field, and what still cannot be read
/// becomes `"[unreadable]"`, so the rest of the event is kept.
fn readable(value: &JsValue, replacer: &JsValue, depth: u32) -> String {
    if let Ok(text) = js_sys::JSON::stringify_with_replacer(value, replacer) {
        return text.as_string().unwrap_or_else(|| "null".to_owned());
    }
    if depth >= FIELD_DEPTH || !value.is_object() {
        return "\"[unreadable]\"".to_owned();
    }
    if js_sys::Array::is_array(value) {
        let items: Vec<String> = js_sys::Array::from(value)
            .iter()
            .map(|item| readable(&item, replacer, depth + 1))
            .collect();
        return format!("[{}]", items.join(","));
    }
    let object = js_sys::Object::from(value.clone());
    let fields: Vec<String> = js_sys::Object::keys(&object)
        .iter()
        .filter_map(|key| {
            let name = key.as_string()?;
            let field = js_sys::Reflect::get(&object, &key).unwrap_or(JsValue::NULL);
            let name = serde_json::to_string(&name).ok()?;
            Some(format!("{name}:{}", readable(&field, replacer, depth + 1)))
        })
        .collect();
    format!("{{{}}}", fields.join(","))
}

/// Each element of the JS array as an event, and how many could not be read at all. Parts of an
/// event that cannot be read (nested too deep, a cycle, a BigInt) are truncated, not fatal.
pub fn read_events(events: &JsValue) -> (Vec<TailEvent>, u32) {
    if !js_sys::Array::is_array(events) {
        return (Vec::new(), 1);
    }
    let bigints = Closure::<dyn Fn(JsValue, JsValue) -> JsValue>::new(|_key: JsValue, value: JsValue| {
        if value.is_bigint() {
            let digits = js_sys::BigInt::unchecked_from_js(value)
                .to_string(10)
                .ok()
                .and_then(|s| s.as_string())
                .unwrap_or_default();
            JsValue::from_str(&format!("{digits}n"))
        } else {
            value
        }
    });
    let replacer = bigints.as_ref().clone();
    let mut read = Vec::new();
    let mut malformed = 0;
    for item in js_sys::Array::from(events).iter() {
        match TailEvent::from_json_text(&readable(&item, &replacer, 0)) {
            Ok(event) => read.push(event),
            Err(reason) => {
                worker::console_error!("tail event refused: {reason}");
                malformed += 1;
            }
        }
    }
    (read, malformed)
}

async fn script_info(ctx: &mut Ctx<'_>, script: &str) -> Option<ScriptInfo> {
    if let Some(info) = SCRIPTS.with(|c| c.get(&script.to_owned(), ctx.now)) {
        return info;
    }
    let info = match ScriptMap::key(script) {
        Ok(key) => match ctx.store.get(&key).await {
            Ok(found) => found.map(|mapping| ScriptInfo {
                project: mapping.0.project.as_str().to_owned(),
                repository: Some(mapping.0.repository.to_string()),
                tier: Some(mapping.0.tier),
            }),
            Err(e) => {
                ctx.fail("SCRIPT_MAP", e);
                return None;
            }
        },
        Err(_) => None,
    };
    SCRIPTS.with(|c| c.put(script.to_owned(), info.clone(), ctx.now));
    info
}

/// A pattern list of pattern discovery (approved or shadow), cached in the isolate.
async fn pattern_list<F: Family<Value = Json<JsonArray>>>(
    ctx: &mut Ctx<'_>,
    cell: &'static std::thread::LocalKey<IsolateCell<Patterns>>,
    key: Result<Key<F>, platform_kv::KeyError>,
) -> Patterns {
    if let Some(patterns) = cell.with(|c| c.get(ctx.now)) {
        return patterns;
    }
    let patterns = match key {
        Ok(key) => match ctx.store.get(&key).await {
            Ok(Some(list)) => Patterns::parse(&list.0),
            Ok(None) => Patterns::default(),
            Err(e) => {
                ctx.fail(F::SPEC.pattern, e);
                Patterns::default()
            }
        },
        Err(_) => Patterns::default(),
    };
    cell.with(|c| c.put(patterns.clone(), ctx.now));
    patterns
}

pub async fn batch(events: JsValue, env: &Env, now: u64, stamp: Stamp) -> Report {
    let (events, malformed) = read_events(&events);
    let mut ctx = match Ctx::new(env, now) {
        Ok(ctx) => ctx,
        Err(error) => return Report::failed(error),
    };
    ctx.report.events = events.len() as u32 + malformed;
    ctx.report.malformed = malformed;
    if let Err(failure) = Box::pin(process(&mut ctx, &events, Some(stamp))).await {
        // The runtime never delivers these events again: they wait on the queue.
        let failure = format!("{failure}; the events wait on {ERROR_EVENTS}");
        defer(&mut ctx, &events).await;
        stamp.record_in(&ctx.db, Some(&failure), now).await;
        ctx.report.errors.push(failure);
    }
    ctx.report.d1_statements = ctx.statements();
    ctx.report
}

/// Captures, counts and files `events`: those past one run's budget of fingerprints are put on
/// the queue; `Err` when D1 refused the counts (nothing of the rest was recorded). A tail batch
/// passes its stamp, which rides in the counts' round trip.
async fn process(ctx: &mut Ctx<'_>, events: &[TailEvent], stamp: Option<Stamp>) -> Result<(), String> {
    let now = ctx.now;
    let names: BTreeSet<String> = events
        .iter()
        .map(|e| e.script.clone().unwrap_or_else(|| UNKNOWN_SCRIPT.to_owned()))
        .collect_set();
    let default_repository = ctx.default_repository();
    let mut scripts = BTreeMap::new();
    for name in names {
        let info = if name == UNKNOWN_SCRIPT {
            None
        } else {
            script_info(ctx, &name).await
        };
        scripts.insert(
            name,
            info.unwrap_or_else(|| ScriptInfo::unmapped(default_repository.clone())),
        );
    }
    let patterns = pattern_list(ctx, &PATTERNS, ApprovedPatterns::key()).await;
    let shadow = pattern_list(ctx, &SHADOW, ShadowPatterns::key()).await;
    let captured: Vec<Vec<Occurrence>> = events
        .iter()
        .map(|event| {
            let script = event.script.as_deref().unwrap_or(UNKNOWN_SCRIPT);
            capture(event, script, &patterns, now)
        })
        .collect();
    // Past one invocation's write budget, the rest waits on the queue.
    let kept = deferred::within_budget(&captured, MAX_GROUPS_PER_RUN);
    defer(ctx, &events[kept..]).await;
    let occurrences: Vec<Occurrence> = captured.into_iter().take(kept).flatten().collect();
    ctx.report.occurrences += occurrences.len() as u32;
    // Shadow patterns are only counted; what is filed does not change.
    let seen = sightings(&occurrences, &patterns, &shadow);
    ctx.report.pattern_matches += seen.values().sum::<u64>() as u32;
    let groups = aggregate(occurrences);
    ctx.report.fingerprints += groups.len() as u32;
    let due = stamp.and_then(|stamp| stamp.busy(&ctx.db, now));
    let mut heard = heard_from(scripts.keys(), now);
    let before = ctx.round_trips();
    if groups.is_empty() {
        let bookkeeping: Vec<_> = due
            .into_iter()
            .chain(std::mem::take(&mut heard.statements))
            .collect();
        if !bookkeeping.is_empty() {
            let stamped = ctx.db.batch("stamping the tail handler", bookkeeping).await;
            ctx.report.d1_round_trips += ctx.round_trips() - before;
            if let Err(error) = stamped {
                heard.forget();
                ctx.fail("stamping the tail handler", error);
            }
        }
        return Ok(());
    }
    let also: Vec<_> = due
        .into_iter()
        .chain(std::mem::take(&mut heard.statements))
        .chain(platform_db::patterns::record_sightings(&seen, now))
        .collect();
    let recorded = fingerprints::record(&ctx.db, &groups, &scripts, also).await;
    ctx.report.d1_round_trips += ctx.round_trips() - before;
    if recorded.is_err() {
        heard.forget();
    }
    let rows = recorded.map_err(|error| error.to_string())?;
    file(ctx, &rows).await;
    Ok(())
}

/// How often this isolate records that a script's tail events arrive (`tail_scripts`): a busy
/// script's every batch would otherwise write its row.
const HEARD_EVERY_MS: u64 = 600_000;

thread_local! {
    /// The scripts this isolate recorded within the last [`HEARD_EVERY_MS`].
    static HEARD: IsolateCache<String, ()> = const { IsolateCache::new(HEARD_EVERY_MS, 512) };
}

/// The `tail_scripts` rows a batch owes, to ride in its own D1 round trip.
struct Heard {
    scripts: Vec<String>,
    statements: Vec<platform_db::Statement>,
}

impl Heard {
    /// The write failed: the next batch records them again.
    fn forget(&self) {
        HEARD.with(|heard| self.scripts.iter().for_each(|s| heard.invalidate(s)));
    }
}

fn heard_from<'a>(scripts: impl Iterator<Item = &'a String>, now: u64) -> Heard {
    let mut heard = Heard {
        scripts: Vec::new(),
        statements: Vec::new(),
    };
    for script in scripts.filter(|s| s.as_str() != UNKNOWN_SCRIPT) {
        if HEARD.with(|h| h.get(script, now)).is_some() {
            continue;
        }
        HEARD.with(|h| h.put(script.clone(), (), now));
        heard.statements.push(tail_scripts::seen(script, now));
        heard.scripts.push(script.clone());
    }
    heard
}

/// Keeps each row's issue, then adds the invocation's GitHub writes to the hourly budget.
async fn file(ctx: &mut Ctx<'_>, rows: &[Fingerprint]) {
    for row in rows {
        // Boxed: the tail batch, the queue and the retry cron share one copy of the issue logic.
        if let Err(error) = Box::pin(issues::sync(ctx, row)).await {
            ctx.fail(&row.fingerprint, error.log_message());
        }
    }
    ctx.flush_rates().await;
}

/// Puts events this invocation does not record on the collector's queue, one a message. Only
/// a refused send loses one, and that is reported.
async fn defer(ctx: &mut Ctx<'_>, events: &[TailEvent]) {
    if events.is_empty() {
        return;
    }
    let Ok(queue) = ctx.env.queue(ERROR_EVENTS) else {
        let lost = format!(
            "binding {ERROR_EVENTS} is missing; {} events are lost",
            events.len()
        );
        return ctx.fail("deferring events", lost);
    };
    for event in events {
        let sent = match js_sys::JSON::parse(&deferred::trace_item(event).to_string()) {
            Ok(body) => {
                let message = RawMessageBuilder::new(body).build_with_content_type(QueueContentType::Json);
                queue.send_raw(message).await.map_err(|e| e.to_string())
            }
            Err(_) => Err("the event could not be encoded".to_owned()),
        };
        match sent {
            Ok(()) => ctx.report.deferred_events += 1,
            Err(e) => ctx.fail("deferring an event", format!("{e}; the event is lost")),
        }
    }
}

/// The collector's own queue: events a tail batch deferred, run through the same pipeline. When
/// D1 refuses again the batch is retried a minute later; a message that is no event is dropped
/// with its reason.
pub async fn requeued(batch: Batch) -> Report {
    let mut ctx = match Ctx::new(&batch.env, batch.now) {
        Ok(ctx) => ctx,
        Err(error) => {
            batch
                .messages
                .iter()
                .for_each(|m| m.retry_with_options(&retry_later()));
            return Report::failed(error);
        }
    };
    let mut events = Vec::new();
    for message in &batch.messages {
        let text = js_sys::JSON::stringify(&message.body())
            .ok()
            .and_then(|t| t.as_string());
        match text.map_or(Err("the message is not JSON".to_owned()), |t| {
            TailEvent::from_json_text(&t)
        }) {
            Ok(event) => events.push(event),
            Err(reason) => {
                ctx.report.malformed += 1;
                ctx.fail("deferred event dropped", reason);
                message.ack();
            }
        }
    }
    ctx.report.events = events.len() as u32;
    let outcome = Box::pin(process(&mut ctx, &events, None)).await;
    for message in &batch.messages {
        match &outcome {
            Ok(()) => message.ack(),
            Err(_) => message.retry_with_options(&retry_later()),
        }
    }
    if let Err(failure) = outcome {
        ctx.report
            .errors
            .push(format!("recording deferred events: {failure}"));
    }
    ctx.report.d1_statements = ctx.statements();
    ctx.report
}

fn retry_later() -> QueueRetryOptions {
    QueueRetryOptionsBuilder::new()
        .with_delay_seconds(RETRY_DELAY_S)
        .build()
}

/// The retry cron: creations that failed or were deferred and are due again. Returns the report
/// and, when the handler could not read its work, why.
pub async fn retry(env: &Env, now: u64) -> (Report, Option<String>) {
    let mut ctx = match Ctx::new(env, now) {
        Ok(ctx) => ctx,
        Err(error) => {
            let failure = error.message.clone();
            return (Report::failed(error), Some(failure));
        }
    };
    // GitHub refusing one creation is that fingerprint's failure, kept on its row; the handler
    // fails only when it cannot read its work.
    let failure = match fingerprints::due_creations(&ctx.db, now, 25).await {
        Ok(rows) => {
            file(&mut ctx, &rows).await;
            None
        }
        Err(error) => Some(error.to_string()),
    };
    ctx.report.errors.extend(failure.clone());
    (ctx.report, failure)
}
