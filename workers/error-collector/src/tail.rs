//! A tail batch: events read one by one (a malformed one is counted, not fatal), occurrences
//! grouped per fingerprint, counts added in one D1 round trip, then each fingerprint's issue kept.

use std::collections::{BTreeMap, BTreeSet};

use platform_errors::deferred::{self, Deferred, MAX_GROUPS_PER_RUN};
use platform_errors::patterns::Patterns;
use platform_errors::sightings::sightings;
use platform_errors::{aggregate, capture, Aggregate, ScriptInfo, TailEvent, UNKNOWN_SCRIPT};
use platform_kv::families::{ApprovedPatterns, ScriptMap, ShadowPatterns};
use platform_kv::key::{Family, Key};
use platform_kv::value::{Json, JsonArray};
use platform_kv::{IsolateCache, IsolateCell};
use platform_worker::skeleton::{Batch, Stamp};
use worker::wasm_bindgen::closure::Closure;
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::{Env, MessageExt, QueueRetryOptions, QueueRetryOptionsBuilder};

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
    let names: BTreeSet<String> = events
        .iter()
        .map(|e| e.script.clone().unwrap_or_else(|| UNKNOWN_SCRIPT.to_owned()))
        .collect();
    let default_repository = ctx.default_repository();
    let mut scripts = BTreeMap::new();
    for name in names {
        let info = if name == UNKNOWN_SCRIPT {
            None
        } else {
            script_info(&mut ctx, &name).await
        };
        scripts.insert(
            name,
            info.unwrap_or_else(|| ScriptInfo::unmapped(default_repository.clone())),
        );
    }
    let patterns = pattern_list(&mut ctx, &PATTERNS, ApprovedPatterns::key()).await;
    let shadow = pattern_list(&mut ctx, &SHADOW, ShadowPatterns::key()).await;
    let occurrences: Vec<_> = events
        .iter()
        .flat_map(|event| {
            let script = event.script.as_deref().unwrap_or(UNKNOWN_SCRIPT);
            capture(event, script, &patterns, now)
        })
        .collect();
    ctx.report.occurrences = occurrences.len() as u32;
    // Shadow patterns are only counted; what is filed does not change.
    let seen = sightings(&occurrences, &patterns, &shadow);
    ctx.report.pattern_matches = seen.values().sum::<u64>() as u32;
    let groups = aggregate(occurrences);
    ctx.report.fingerprints = groups.len() as u32;
    // Past one invocation's write budget, the rest waits on the queue.
    let (groups, later) = deferred::split(groups, MAX_GROUPS_PER_RUN);
    defer(&mut ctx, later, &scripts).await;
    let due = stamp.busy(&ctx.db, now);
    let before = ctx.round_trips();
    if groups.is_empty() {
        if let Some(stamp) = due {
            let stamped = ctx.db.batch("stamping the tail handler", vec![stamp]).await;
            ctx.report.d1_round_trips += ctx.round_trips() - before;
            if let Err(error) = stamped {
                ctx.fail("stamping the tail handler", error);
            }
        }
        ctx.report.d1_statements = ctx.statements();
        return ctx.report;
    }
    let also = due
        .into_iter()
        .chain(platform_db::patterns::record_sightings(&seen, now));
    let recorded = fingerprints::record(&ctx.db, &groups, &scripts, also).await;
    ctx.report.d1_round_trips += ctx.round_trips() - before;
    let rows = match recorded {
        Ok(rows) => rows,
        Err(error) => {
            // The runtime never delivers these events again: their counts wait on the queue.
            let failure = format!("{error}; the counts wait on {ERROR_EVENTS}");
            defer(&mut ctx, groups, &scripts).await;
            stamp.record_in(&ctx.db, Some(&failure), now).await;
            ctx.report.errors.push(failure);
            ctx.report.d1_statements = ctx.statements();
            return ctx.report;
        }
    };
    file(&mut ctx, &rows).await;
    ctx.report.d1_statements = ctx.statements();
    ctx.report
}

/// Keeps each row's issue, then adds the invocation's GitHub writes to the hourly budget.
async fn file(ctx: &mut Ctx<'_>, rows: &[Fingerprint]) {
    for row in rows {
        if let Err(error) = issues::sync(ctx, row).await {
            ctx.fail(&row.fingerprint, error.log_message());
        }
    }
    ctx.flush_rates().await;
}

/// Puts counts this invocation does not record on the collector's queue. Only a refused send
/// loses them, and that is reported.
async fn defer(
    ctx: &mut Ctx<'_>,
    groups: BTreeMap<String, Aggregate>,
    scripts: &BTreeMap<String, ScriptInfo>,
) {
    if groups.is_empty() {
        return;
    }
    let count = groups.len() as u32;
    let queue = match ctx.env.queue(ERROR_EVENTS) {
        Ok(queue) => queue,
        Err(_) => {
            return ctx.fail(
                "deferring counts",
                format!("binding {ERROR_EVENTS} is missing; {count} fingerprints' counts are lost"),
            )
        }
    };
    for message in deferred::messages(groups, scripts) {
        let n = message.groups.len() as u32;
        match queue.send(&message).await {
            Ok(()) => ctx.report.deferred_groups += n,
            Err(e) => ctx.fail(
                "deferring counts",
                format!("{e}; {n} fingerprints' counts are lost"),
            ),
        }
    }
}

/// The collector's own queue: counts deferred by a tail batch, recorded one message at a time
/// (one D1 round trip each); a message D1 refuses again is retried later, one that is not
/// deferred counts is dropped with its reason.
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
    let mut rows = Vec::new();
    for message in &batch.messages {
        let body = js_sys::JSON::stringify(&message.body())
            .ok()
            .and_then(|text| text.as_string())
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        let deferred = match Deferred::parse(&body) {
            Ok(deferred) => deferred,
            Err(reason) => {
                ctx.report.malformed += 1;
                ctx.fail("deferred counts dropped", reason);
                message.ack();
                continue;
            }
        };
        if rows.len() >= MAX_GROUPS_PER_RUN {
            message.retry_with_options(&retry_later());
            continue;
        }
        ctx.report.fingerprints += deferred.groups.len() as u32;
        let before = ctx.round_trips();
        let recorded = fingerprints::record(&ctx.db, &deferred.groups, &deferred.scripts, None).await;
        ctx.report.d1_round_trips += ctx.round_trips() - before;
        match recorded {
            Ok(recorded) => {
                message.ack();
                rows.extend(recorded);
            }
            Err(error) => {
                ctx.fail("recording deferred counts", error);
                message.retry_with_options(&retry_later());
            }
        }
    }
    file(&mut ctx, &rows).await;
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
            for row in &rows {
                if let Err(error) = issues::sync(&mut ctx, row).await {
                    ctx.fail(&row.fingerprint, error.log_message());
                }
            }
            None
        }
        Err(error) => Some(error.to_string()),
    };
    ctx.flush_rates().await;
    ctx.report.errors.extend(failure.clone());
    (ctx.report, failure)
}
