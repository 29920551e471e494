//! A tail batch: events read one by one (a malformed one is counted, not fatal), occurrences
//! grouped per fingerprint, counts added in one D1 round trip, then each fingerprint's issue kept.

use std::collections::{BTreeMap, BTreeSet};

use platform_errors::patterns::Patterns;
use platform_errors::sightings::sightings;
use platform_errors::{aggregate, capture, ScriptInfo, TailEvent, UNKNOWN_SCRIPT};
use platform_kv::families::{ApprovedPatterns, ScriptMap, ShadowPatterns};
use platform_kv::key::{Family, Key};
use platform_kv::value::{Json, JsonArray};
use platform_kv::{IsolateCache, IsolateCell};
use platform_worker::skeleton::Stamp;
use serde_json::Value;
use worker::wasm_bindgen::JsValue;
use worker::Env;

use crate::context::{Ctx, Report};
use crate::issues;
use crate::ledger::fingerprints;

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

/// Each element of the JS array as JSON; `None` for one that cannot be read.
pub fn read_events(events: &JsValue) -> (Vec<TailEvent>, u32) {
    if !js_sys::Array::is_array(events) {
        return (Vec::new(), 1);
    }
    let mut read = Vec::new();
    let mut malformed = 0;
    for item in js_sys::Array::from(events).iter() {
        let event = js_sys::JSON::stringify(&item)
            .ok()
            .and_then(|s| s.as_string())
            .and_then(|s| serde_json::from_str::<Value>(&s).ok())
            .and_then(|v| TailEvent::from_json(&v));
        match event {
            Some(event) => read.push(event),
            None => malformed += 1,
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
            let failure = error.to_string();
            stamp.record_in(&ctx.db, Some(&failure), now).await;
            ctx.report.errors.push(failure);
            return ctx.report;
        }
    };
    for row in &rows {
        if let Err(error) = issues::sync(&mut ctx, row).await {
            ctx.fail(&row.fingerprint, error.log_message());
        }
    }
    ctx.flush_rates().await;
    ctx.report
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
