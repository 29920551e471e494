//! The admin routes: the gap result and the open gaps, the anomalies, and the silences.

use platform_core::time::{iso8601, parse_instant};
use platform_core::{FeatureKey, ProjectId};
use platform_db::sentinel::{self, Incident};
use platform_kv::families::ProjectGapsResult;
use platform_kv::Json;
use platform_sentinel::incident::IncidentKind;
use platform_sentinel::silences::{check_expiry, Matcher, Silence};
use platform_worker::skeleton::{ok, reply, Cx, Reply};
use platform_worker::ApiError;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::ID;

const LATEST: u32 = 50;

fn incident(i: &Incident) -> Value {
    json!({
        "id": i.id,
        "kind": i.open.kind,
        "subject": i.open.subject,
        "project": i.open.project,
        "feature": i.open.feature,
        "since": iso8601(i.open.since),
        "opened_at": iso8601(i.open.opened_at),
        "closed_at": i.closed_at.map(iso8601),
        "why": i.summary,
        "detail": i.detail,
        "silenced_by": i.silenced_by,
    })
}

/// `GET /gaps`: the last detection's result (every feature's state, cached an hour) and the
/// gap and heartbeat incidents open now.
pub async fn gaps(cx: Cx) -> Reply {
    let store = platform_worker::store(&cx.env, ID)?;
    let db = platform_worker::db(&cx.env, ID)?;
    let cached = store
        .get(&ProjectGapsResult::key()?)
        .await?
        .map(|Json(v)| Value::Object(v));
    let open: Vec<Value> = sentinel::open_incidents(&db)
        .await?
        .iter()
        .filter(|i| matches!(i.open.kind, IncidentKind::Gap | IncidentKind::Heartbeat))
        .map(incident)
        .collect();
    ok(&json!({ "result": cached, "open": open }))
}

/// `GET /anomalies`: the latest anomalies, open first, each with its figures and contributors.
pub async fn anomalies(cx: Cx) -> Reply {
    let db = platform_worker::db(&cx.env, ID)?;
    let limit = cx.query_u32("limit", LATEST, 1..=200)?;
    let mut latest = sentinel::latest(&db, IncidentKind::Anomaly, limit).await?;
    latest.sort_by_key(|i| (i.closed_at.is_some(), std::cmp::Reverse(i.id)));
    let open = latest.iter().filter(|i| i.closed_at.is_none()).count();
    ok(&json!({ "open": open, "anomalies": latest.iter().map(incident).collect::<Vec<_>>() }))
}

fn silence(s: &Silence) -> Value {
    json!({
        "id": s.id,
        "project": s.matcher.project,
        "feature": s.matcher.feature,
        "kind": s.matcher.kind,
        "reason": s.reason,
        "created_at": iso8601(s.created_at),
        "expires_at": iso8601(s.expires_at),
    })
}

/// `GET /silences`: the silences in force.
pub async fn list_silences(cx: Cx) -> Reply {
    let db = platform_worker::db(&cx.env, ID)?;
    let silences = sentinel::silences(&db, cx.now).await?;
    ok(&json!({ "silences": silences.iter().map(silence).collect::<Vec<_>>() }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SilenceRequest {
    project: Option<String>,
    feature: Option<String>,
    kind: Option<String>,
    /// ISO 8601 or epoch ms.
    expires_at: Value,
    reason: Option<String>,
}

/// `POST /silences`: `{project?, feature?, kind?, expires_at, reason?}`.
pub async fn add_silence(mut cx: Cx) -> Reply {
    let request: SilenceRequest = cx.json().await?;
    let matcher = Matcher {
        project: request
            .project
            .map(|p| ProjectId::parse(&p).map_err(|e| ApiError::bad_request(format!("project: {e}"))))
            .transpose()?,
        feature: request
            .feature
            .map(|f| FeatureKey::parse(&f).map_err(|e| ApiError::bad_request(format!("feature: {e}"))))
            .transpose()?,
        kind: request
            .kind
            .map(|k| {
                IncidentKind::parse(&k).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "kind: {k:?} is not one of gap, heartbeat, anomaly, platform"
                    ))
                })
            })
            .transpose()?,
    }
    .validate()
    .map_err(ApiError::bad_request)?;
    let expires_at = match &request.expires_at {
        Value::String(s) => parse_instant(s),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
    .ok_or_else(|| {
        ApiError::bad_request("expires_at: an ISO 8601 instant or epoch milliseconds is required")
    })?;
    let expires_at =
        check_expiry(expires_at, cx.now).map_err(|e| ApiError::bad_request(format!("expires_at: {e}")))?;
    let reason = request.reason.unwrap_or_default();
    if reason.len() > 500 {
        return Err(ApiError::bad_request("reason: at most 500 characters"));
    }
    let db = platform_worker::db(&cx.env, ID)?;
    let added = sentinel::add_silence(&db, matcher, &reason, expires_at, cx.now).await?;
    reply(201, &silence(&added))
}

/// `/silences/:id` (the HTTP delete): ends a silence now (it stays on record).
pub async fn end_silence(cx: Cx) -> Reply {
    let id: u64 = cx
        .param("id")
        .parse()
        .map_err(|_| ApiError::bad_request("the silence id must be a whole number"))?;
    let db = platform_worker::db(&cx.env, ID)?;
    if sentinel::end_silence(&db, id, cx.now).await? {
        ok(&json!({ "ended": id }))
    } else {
        Err(ApiError::not_found(format!("no silence {id} in force")))
    }
}
