//! A person's routes: their notifications, read state, unread count and preferences. Everything
//! is keyed by the identity the request proved ([`identity::person`]); a notification outside the
//! person's audience is answered 404, exactly as one that does not exist.

use std::collections::HashSet;

use platform_core::time::iso8601;
use platform_db::notifications::{self as inbox, Member, Stored, Viewer};
use platform_kv::families::{NotificationCount, NotificationPrefs, NotificationRead};
use platform_kv::{Json, Key, Timestamp, TypedKey};
use platform_notifications::fields::Invalid;
use platform_notifications::inbox::{self as rules, CountStamp, Filter, COUNT_CAP};
use platform_notifications::Prefs;
use platform_worker::skeleton::Cx;
use platform_worker::ApiError;
use serde_json::{json, Value};

use crate::context::{bad_request, Context};
use crate::identity;

/// A person's request, with what it is read against.
struct Session {
    context: Context,
    member: Member,
    prefs: Prefs,
    now: u64,
}

async fn session(cx: &Cx) -> Result<Session, ApiError> {
    let context = Context::open(&cx.env)?;
    let member = identity::person(cx, &context).await?;
    let prefs = context.prefs(&member.person.id).await?;
    Ok(Session {
        context,
        member,
        prefs,
        now: cx.now,
    })
}

impl Session {
    fn user(&self) -> &str {
        &self.member.person.id
    }

    fn viewer(&self) -> Viewer<'_> {
        Viewer {
            person: &self.member.person,
            prefs: &self.prefs,
        }
    }

    /// Which of `seqs` carry a read mark (only those after the watermark are looked up).
    async fn marked(&self, seqs: &[u64]) -> Result<HashSet<u64>, ApiError> {
        let after: Vec<u64> = seqs
            .iter()
            .copied()
            .filter(|seq| rules::needs_mark(*seq, self.member.read_through))
            .collect();
        let keys = after
            .iter()
            .map(|seq| NotificationRead::key(self.user(), &seq.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        let refs: Vec<&dyn TypedKey<Value = Timestamp>> =
            keys.iter().map(|key| key as &dyn TypedKey<Value = _>).collect();
        let found = self.context.store.get_bulk(&refs).await?;
        Ok(after
            .into_iter()
            .zip(found)
            .filter(|(_, value)| matches!(value, Ok(Some(_))))
            .map(|(seq, _)| seq)
            .collect())
    }

    /// Counts the unread notifications and caches the count with its stamp (one write).
    /// `also_read` is a mark just written, counted as read whatever KV answers yet.
    async fn recount(&self, also_read: Option<u64>) -> Result<Value, ApiError> {
        let latest = inbox::latest_seq(&self.context.db).await?;
        let watermark = self.member.read_through;
        let candidates = inbox::unread_candidates(
            &self.context.db,
            self.viewer(),
            watermark,
            COUNT_CAP + 1,
            self.now,
        )
        .await?;
        let capped = candidates.len() > COUNT_CAP;
        let seqs: Vec<u64> = candidates.iter().map(|(seq, _)| *seq).collect();
        let mut marked: HashSet<String> = self.marked(&seqs).await?.iter().map(u64::to_string).collect();
        marked.extend(also_read.map(|seq| seq.to_string()));
        let ids: Vec<String> = seqs.iter().map(u64::to_string).collect();
        let unread = rules::unread(ids.iter().map(String::as_str), &marked).min(COUNT_CAP);
        let stamp = CountStamp::new(latest, watermark, self.now, candidates.iter().map(|(_, e)| *e));
        self.store_count(unread, stamp).await?;
        Ok(json!({ "unread": unread, "capped": capped, "cached": false }))
    }

    async fn store_count(&self, unread: usize, stamp: CountStamp) -> Result<(), ApiError> {
        let key = NotificationCount::key(self.user())?;
        let count = i64::try_from(unread).unwrap_or(i64::MAX);
        self.context
            .store
            .put_with(&key, &count, None, Some(stamp.to_metadata()))
            .await?;
        Ok(())
    }

    /// Notification `raw` if the person may see it; 404 otherwise.
    async fn notification(&self, raw: &str) -> Result<Stored, ApiError> {
        let seq = raw
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| bad_request(Invalid::new("id", "must be a notification id")))?;
        inbox::get(&self.context.db, &self.member.person, seq, self.now)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("no notification {seq}")))
    }
}

fn to_json(stored: &Stored, read: bool) -> Value {
    json!({
        "id": stored.seq,
        "source": stored.source,
        "category": stored.category.as_str(),
        "priority": stored.priority.as_str(),
        "title": stored.title,
        "body": stored.body,
        "action_url": stored.action_url,
        "audience": stored.audience.to_json(),
        "created_at": iso8601(stored.created_at),
        "expires_at": stored.expires_at.map(iso8601),
        "read": read,
    })
}

/// `GET /notifications`: newest first; a page may hold fewer than `limit` (single marks are
/// looked up after the page is read), so follow `next_cursor` until it is null.
pub async fn list(cx: &Cx) -> Result<Value, ApiError> {
    let session = session(cx).await?;
    let filter = Filter::from_query(|name| cx.query(name).ok().flatten()).map_err(bad_request)?;
    let watermark = session.member.read_through;
    let rows = inbox::page(
        &session.context.db,
        session.viewer(),
        &filter,
        watermark,
        session.now,
    )
    .await?;
    let scanned: Vec<u64> = rows.iter().map(|row| row.seq).collect();
    let marked = session.marked(&scanned).await?;
    let notifications: Vec<Value> = rows
        .iter()
        .map(|row| (row, rules::is_read(row.seq, watermark, marked.contains(&row.seq))))
        .filter(|(_, read)| !(filter.unread && *read))
        .map(|(row, read)| to_json(row, read))
        .collect();
    Ok(json!({
        "notifications": notifications,
        "next_cursor": rules::next_cursor(&scanned, filter.limit).map(|c| c.to_string()),
    }))
}

pub async fn show(cx: &Cx) -> Result<Value, ApiError> {
    let session = session(cx).await?;
    let stored = session.notification(cx.param("id")).await?;
    let marked = session.marked(&[stored.seq]).await?;
    let read = rules::is_read(
        stored.seq,
        session.member.read_through,
        marked.contains(&stored.seq),
    );
    Ok(to_json(&stored, read))
}

/// `POST /notifications/:id/read`: the read key (unless the watermark covers it already) and the
/// recomputed count.
pub async fn mark_read(cx: &Cx) -> Result<Value, ApiError> {
    let session = session(cx).await?;
    let stored = session.notification(cx.param("id")).await?;
    if !rules::needs_mark(stored.seq, session.member.read_through) {
        return Ok(json!({ "id": stored.seq, "read": true, "written": false }));
    }
    if session.marked(&[stored.seq]).await?.contains(&stored.seq) {
        return Ok(json!({ "id": stored.seq, "read": true, "written": false }));
    }
    let key: Key<NotificationRead> = NotificationRead::key(session.user(), &stored.seq.to_string())?;
    session.context.store.put(&key, &Timestamp(session.now)).await?;
    // The mark is what matters; a count that could not be stored (KV takes one write per key a
    // second) is recomputed within the hour.
    let unread = match session.recount(Some(stored.seq)).await {
        Ok(count) => count["unread"].clone(),
        Err(error) => {
            worker::console_warn!("count of {} not stored: {}", session.user(), error.log_message());
            Value::Null
        }
    };
    Ok(json!({ "id": stored.seq, "read": true, "written": true, "unread": unread }))
}

/// `POST /notifications/read-all`: the watermark moves to the newest notification (one D1
/// write), and the count is stored as 0 (the only KV write).
pub async fn read_all(cx: &Cx) -> Result<Value, ApiError> {
    let mut session = session(cx).await?;
    let latest = inbox::latest_seq(&session.context.db).await?;
    inbox::read_through(&session.context.db, session.user(), latest).await?;
    let watermark = latest.max(session.member.read_through);
    session.member.read_through = watermark;
    session
        .store_count(0, CountStamp::new(latest, watermark, session.now, []))
        .await?;
    let counts = session.context.store.kv().counts();
    Ok(json!({
        "read_through": watermark,
        "unread": 0,
        "kv_writes": counts.writes + counts.deletes,
    }))
}

/// `GET /notifications/unread-count`: the cached count while its stamp holds, else recomputed.
pub async fn unread_count(cx: &Cx) -> Result<Value, ApiError> {
    let session = session(cx).await?;
    let key = NotificationCount::key(session.user())?;
    let cached = match session.context.store.get_with_metadata(&key).await {
        Ok(cached) => cached,
        // A hand-written value is recomputed over.
        Err(error) => {
            worker::console_warn!("{error}: recounting");
            None
        }
    };
    if let Some(cached) = cached {
        let latest = inbox::latest_seq(&session.context.db).await?;
        let holds = CountStamp::from_metadata(cached.metadata.as_ref())
            .is_some_and(|stamp| stamp.holds(latest, session.member.read_through, session.now));
        if holds {
            return Ok(
                json!({ "unread": cached.value.max(0), "capped": cached.value >= COUNT_CAP as i64, "cached": true }),
            );
        }
    }
    session.recount(None).await
}

pub async fn preferences(cx: &Cx) -> Result<Value, ApiError> {
    let session = session(cx).await?;
    Ok(session.prefs.to_json())
}

/// `PUT /notifications/preferences`: the whole document, validated; the count is recomputed
/// under the new mutes.
pub async fn set_preferences(cx: &Cx, body: &Value) -> Result<Value, ApiError> {
    let mut session = session(cx).await?;
    let prefs = Prefs::from_json(body).map_err(bad_request)?;
    let key = NotificationPrefs::key(session.user())?;
    session.context.store.put(&key, &Json(prefs.to_object())).await?;
    session.prefs = prefs;
    let count = session.recount(None).await?;
    Ok(json!({ "preferences": session.prefs.to_json(), "unread": count["unread"] }))
}

pub async fn me(cx: &Cx) -> Result<Value, ApiError> {
    let session = session(cx).await?;
    Ok(json!({
        "person": session.member.person.to_json(),
        "read_through": session.member.read_through,
    }))
}
