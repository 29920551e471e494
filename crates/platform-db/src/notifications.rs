//! The notifications inbox: people, personal tokens, notifications created once per dedup key,
//! and the queries a person's inbox reads. Every read of notifications goes through one
//! visibility rule ([`VISIBLE`]): the audience includes the person, it has not expired, it is
//! within retention, and the person has not muted its source or category.

use platform_core::EpochMs;
use platform_notifications::contract::{Category, Priority};
use platform_notifications::digest::Item;
use platform_notifications::inbox::{Filter, RETENTION_MS};
use platform_notifications::{Audience, NotificationInput, Person, Prefs};
use serde_json::json;

use crate::db::Db;
use crate::error::DbError;
use crate::row::{FromRow, Row};
use crate::sql::Sql;
use crate::statement::Statement;
use crate::tables::{NOTIFICATIONS, NOTIFICATION_PEOPLE, NOTIFICATION_TOKENS};
use crate::value::Value;

/// People read at most (a team, not a customer base).
pub const PEOPLE_MAX: u32 = 1000;

impl FromRow for Person {
    fn from_row(row: &Row) -> Result<Self, String> {
        Ok(Self {
            id: row.get("id")?,
            role: row.get("role")?,
            email: row.get("email")?,
            display_name: row.get("display_name")?,
        })
    }
}

/// A person with their watermark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub person: Person,
    pub read_through: u64,
}

impl FromRow for Member {
    fn from_row(row: &Row) -> Result<Self, String> {
        Ok(Self {
            person: Person::from_row(row)?,
            read_through: row.get("read_through")?,
        })
    }
}

const MEMBER: &str = "SELECT id, role, email, display_name, read_through FROM notification_people";

/// Registers a person; returns whether they are new (an existing id or email is left as it is).
pub async fn add_person<S: Sql>(db: &Db<S>, person: &Person, now: EpochMs) -> Result<bool, DbError> {
    let statement = Statement::write(
        &NOTIFICATION_PEOPLE,
        "INSERT INTO notification_people (id, role, email, display_name, created_at) VALUES (?, ?, ?, ?, ?) \
         ON CONFLICT DO NOTHING RETURNING id",
        vec![
            person.id.as_str().into(),
            person.role.as_str().into(),
            person.email.as_deref().into(),
            person.display_name.as_deref().into(),
            now.into(),
        ],
    );
    Ok(!db.run("registering a person", statement).await?.rows.is_empty())
}

/// Every person, by id.
pub async fn people<S: Sql>(db: &Db<S>) -> Result<Vec<Member>, DbError> {
    let statement = Statement::read(format!("{MEMBER} ORDER BY id LIMIT ?"), vec![PEOPLE_MAX.into()]);
    db.rows("reading the people", statement).await
}

pub async fn member<S: Sql>(db: &Db<S>, id: &str) -> Result<Option<Member>, DbError> {
    let statement = Statement::read(format!("{MEMBER} WHERE id = ?"), vec![id.into()]);
    db.first("reading a person", statement).await
}

/// The person an Access login (`email`, lowercase) is.
pub async fn member_by_email<S: Sql>(db: &Db<S>, email: &str) -> Result<Option<Member>, DbError> {
    let statement = Statement::read(format!("{MEMBER} WHERE email = ?"), vec![email.into()]);
    db.first("finding the person of an Access login", statement).await
}

/// The person holding the unrevoked token whose hash is `token_hash`.
pub async fn member_by_token<S: Sql>(db: &Db<S>, token_hash: &str) -> Result<Option<Member>, DbError> {
    let statement = Statement::read(
        "SELECT p.id, p.role, p.email, p.display_name, p.read_through FROM notification_tokens t \
         JOIN notification_people p ON p.id = t.user_id WHERE t.token_hash = ? AND t.revoked_at IS NULL",
        vec![token_hash.into()],
    );
    db.first("finding the holder of a token", statement).await
}

/// Removes a person and revokes their tokens; returns whether they existed.
pub async fn remove_person<S: Sql>(db: &Db<S>, id: &str, now: EpochMs) -> Result<bool, DbError> {
    let outcomes = db
        .batch(
            "removing a person",
            vec![
                Statement::write(
                    &NOTIFICATION_TOKENS,
                    "UPDATE notification_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
                    vec![now.into(), id.into()],
                ),
                Statement::write(
                    &NOTIFICATION_PEOPLE,
                    "DELETE FROM notification_people WHERE id = ?",
                    vec![id.into()],
                ),
            ],
        )
        .await?;
    Ok(outcomes.last().is_some_and(|o| o.changes > 0))
}

/// Marks everything numbered up to `seq` read for `user`: the watermark only moves forward.
pub async fn read_through<S: Sql>(db: &Db<S>, user: &str, seq: u64) -> Result<(), DbError> {
    let statement = Statement::write(
        &NOTIFICATION_PEOPLE,
        "UPDATE notification_people SET read_through = MAX(read_through, ?) WHERE id = ?",
        vec![seq.into(), user.into()],
    );
    db.run("moving a read watermark", statement).await.map(|_| ())
}

/// A token as listed (never its hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub id: String,
    pub label: Option<String>,
    pub created_at: EpochMs,
    pub revoked_at: Option<EpochMs>,
}

impl FromRow for TokenRow {
    fn from_row(row: &Row) -> Result<Self, String> {
        Ok(Self {
            id: row.get("id")?,
            label: row.get("label")?,
            created_at: row.get("created_at")?,
            revoked_at: row.get("revoked_at")?,
        })
    }
}

pub fn add_token(hash: &str, id: &str, user: &str, label: Option<&str>, now: EpochMs) -> Statement {
    Statement::write(
        &NOTIFICATION_TOKENS,
        "INSERT INTO notification_tokens (token_hash, id, user_id, label, created_at) VALUES (?, ?, ?, ?, ?)",
        vec![hash.into(), id.into(), user.into(), label.into(), now.into()],
    )
}

pub async fn tokens<S: Sql>(db: &Db<S>, user: &str) -> Result<Vec<TokenRow>, DbError> {
    let statement = Statement::read(
        "SELECT id, label, created_at, revoked_at FROM notification_tokens WHERE user_id = ? ORDER BY created_at",
        vec![user.into()],
    );
    db.rows("listing a person's tokens", statement).await
}

/// Revokes `user`'s token `id`; returns whether it was live.
pub async fn revoke_token<S: Sql>(db: &Db<S>, user: &str, id: &str, now: EpochMs) -> Result<bool, DbError> {
    let statement = Statement::write(
        &NOTIFICATION_TOKENS,
        "UPDATE notification_tokens SET revoked_at = ? WHERE user_id = ? AND id = ? AND revoked_at IS NULL",
        vec![now.into(), user.into(), id.into()],
    );
    Ok(db.run("revoking a token", statement).await?.changes > 0)
}

/// Creates the notification unless its dedup key exists; the statement returns the new `seq`, or
/// nothing for a duplicate.
pub fn insert(input: &NotificationInput, now: EpochMs) -> Statement {
    Statement::write(
        &NOTIFICATIONS,
        "INSERT INTO notifications (dedup_key, source, category, priority, title, body, audience_kind, \
         audience_value, action_url, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (dedup_key) DO NOTHING RETURNING seq",
        vec![
            input.dedup_key.as_str().into(),
            input.source.as_str().into(),
            input.category.as_str().into(),
            input.priority.as_str().into(),
            input.title.as_str().into(),
            input.body.as_deref().into(),
            input.audience.kind().into(),
            input.audience.stored_value().into(),
            input.action_url.as_deref().into(),
            now.into(),
            input.expires_at.into(),
        ],
    )
}

/// The `seq` of the notification created for `dedup_key`.
pub async fn seq_of<S: Sql>(db: &Db<S>, dedup_key: &str) -> Result<Option<u64>, DbError> {
    #[derive(Debug)]
    struct Seq(u64);
    impl FromRow for Seq {
        fn from_row(row: &Row) -> Result<Self, String> {
            row.get("seq").map(Seq)
        }
    }
    let statement = Statement::read(
        "SELECT seq FROM notifications WHERE dedup_key = ?",
        vec![dedup_key.into()],
    );
    Ok(db
        .first::<Seq>("finding a notification by its dedup key", statement)
        .await?
        .map(|s| s.0))
}

/// The newest notification's `seq` (0 when there is none): what a cached count is stamped with.
pub async fn latest_seq<S: Sql>(db: &Db<S>) -> Result<u64, DbError> {
    #[derive(Debug)]
    struct Latest(u64);
    impl FromRow for Latest {
        fn from_row(row: &Row) -> Result<Self, String> {
            row.get("latest").map(Latest)
        }
    }
    let statement = Statement::read(
        "SELECT COALESCE(MAX(seq), 0) AS latest FROM notifications",
        vec![],
    );
    Ok(db
        .first::<Latest>("reading the newest notification", statement)
        .await?
        .map_or(0, |l| l.0))
}

/// A stored notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub seq: u64,
    pub source: String,
    pub category: Category,
    pub priority: Priority,
    pub title: String,
    pub body: Option<String>,
    pub audience: Audience,
    pub action_url: Option<String>,
    pub created_at: EpochMs,
    pub expires_at: Option<EpochMs>,
}

impl FromRow for Stored {
    fn from_row(row: &Row) -> Result<Self, String> {
        let kind: String = row.get("audience_kind")?;
        let value: Option<String> = row.get("audience_value")?;
        Ok(Self {
            seq: row.get("seq")?,
            source: row.get("source")?,
            category: row.parse("category", Category::parse)?,
            priority: row.parse("priority", Priority::parse)?,
            title: row.get("title")?,
            body: row.get("body")?,
            audience: Audience::from_stored(&kind, value.as_deref())
                .ok_or_else(|| format!("audience {kind:?} {value:?} is not an audience"))?,
            action_url: row.get("action_url")?,
            created_at: row.get("created_at")?,
            expires_at: row.get("expires_at")?,
        })
    }
}

impl Stored {
    pub fn item(&self) -> Item {
        Item {
            title: self.title.clone(),
            body: self.body.clone(),
            source: self.source.clone(),
            category: self.category,
            priority: self.priority,
            created_at: self.created_at,
            action_url: self.action_url.clone(),
        }
    }
}

const COLUMNS: &str = "seq, source, category, priority, title, body, audience_kind, audience_value, \
                       action_url, created_at, expires_at";

/// The visibility rule, over parameters `?1` role, `?2` user id, `?3` now, `?4` the retention
/// cutoff, `?5` the muted sources and `?6` the muted categories (JSON arrays), so a filter adds
/// its own parameters after them.
const VISIBLE: &str = "(audience_kind = 'everyone' OR (audience_kind = 'role' AND audience_value = ?1) \
     OR (audience_kind = 'people' AND EXISTS (SELECT 1 FROM json_each(notifications.audience_value) WHERE value = ?2))) \
     AND (expires_at IS NULL OR expires_at > ?3) AND created_at > ?4 \
     AND source NOT IN (SELECT value FROM json_each(?5)) AND category NOT IN (SELECT value FROM json_each(?6))";

/// Who is reading, with what they muted.
#[derive(Debug, Clone, Copy)]
pub struct Viewer<'a> {
    pub person: &'a Person,
    pub prefs: &'a Prefs,
}

impl Viewer<'_> {
    fn params(&self, now: EpochMs) -> Vec<Value> {
        let categories: Vec<&str> = self.prefs.muted_categories.iter().map(|c| c.as_str()).collect();
        vec![
            self.person.role.as_str().into(),
            self.person.id.as_str().into(),
            now.into(),
            now.saturating_sub(RETENTION_MS).into(),
            json!(self.prefs.muted_sources).to_string().into(),
            json!(categories).to_string().into(),
        ]
    }
}

/// One page of what `viewer` sees, newest first, under `filter` (its `unread` filter leaves out
/// the watermark's; the caller leaves out the single marks).
pub async fn page<S: Sql>(
    db: &Db<S>,
    viewer: Viewer<'_>,
    filter: &Filter,
    watermark: u64,
    now: EpochMs,
) -> Result<Vec<Stored>, DbError> {
    let mut sql = format!("SELECT {COLUMNS} FROM notifications WHERE {VISIBLE}");
    let mut params = viewer.params(now);
    let mut add = |clause: &str, value: Value| {
        params.push(value);
        sql.push_str(&format!(" AND {clause} ?{}", params.len()));
    };
    if filter.unread {
        add("seq >", watermark.into());
    }
    if let Some(category) = filter.category {
        add("category =", category.as_str().into());
    }
    if let Some(source) = &filter.source {
        add("source =", source.as_str().into());
    }
    if let Some(priority) = filter.priority {
        add("priority =", priority.as_str().into());
    }
    if let Some(before) = filter.before {
        add("seq <", before.into());
    }
    params.push(filter.limit.into());
    sql.push_str(&format!(" ORDER BY seq DESC LIMIT ?{}", params.len()));
    db.rows("listing notifications", Statement::read(sql, params))
        .await
}

/// Notification `seq` if `viewer` may see it (muted or not: it is theirs).
pub async fn get<S: Sql>(
    db: &Db<S>,
    person: &Person,
    seq: u64,
    now: EpochMs,
) -> Result<Option<Stored>, DbError> {
    let unmuted = Prefs::default();
    let viewer = Viewer {
        person,
        prefs: &unmuted,
    };
    let mut params = viewer.params(now);
    params.push(seq.into());
    let statement = Statement::read(
        format!("SELECT {COLUMNS} FROM notifications WHERE {VISIBLE} AND seq = ?7"),
        params,
    );
    db.first("reading a notification", statement).await
}

/// What an unread count is computed from: `viewer`'s notifications after the watermark, at most
/// `cap` of them, with their expiry.
pub async fn unread_candidates<S: Sql>(
    db: &Db<S>,
    viewer: Viewer<'_>,
    watermark: u64,
    cap: usize,
    now: EpochMs,
) -> Result<Vec<(u64, Option<EpochMs>)>, DbError> {
    #[derive(Debug)]
    struct Candidate(u64, Option<EpochMs>);
    impl FromRow for Candidate {
        fn from_row(row: &Row) -> Result<Self, String> {
            Ok(Candidate(row.get("seq")?, row.get("expires_at")?))
        }
    }
    let mut params = viewer.params(now);
    params.push(watermark.into());
    params.push(cap.into());
    let statement = Statement::read(
        format!("SELECT seq, expires_at FROM notifications WHERE {VISIBLE} AND seq > ?7 ORDER BY seq DESC LIMIT ?8"),
        params,
    );
    let rows: Vec<Candidate> = db.rows("counting unread notifications", statement).await?;
    Ok(rows.into_iter().map(|c| (c.0, c.1)).collect())
}

/// What `viewer` was sent from `start` to `end` (created in the period, shown to them), oldest
/// first, at most `limit`, and how many there were in all.
pub async fn period_items<S: Sql>(
    db: &Db<S>,
    viewer: Viewer<'_>,
    start: EpochMs,
    end: EpochMs,
    limit: usize,
) -> Result<(Vec<Stored>, usize), DbError> {
    #[derive(Debug)]
    struct Total(usize);
    impl FromRow for Total {
        fn from_row(row: &Row) -> Result<Self, String> {
            row.get::<u64>("total").map(|n| Total(n as usize))
        }
    }
    // Visibility as of the period's end: what had not expired by then belonged in it.
    let mut params = viewer.params(end);
    params.push(start.into());
    params.push(end.into());
    let range = "created_at >= ?7 AND created_at < ?8";
    let mut listed = params.clone();
    listed.push(limit.into());
    let outcomes = db
        .batch(
            "reading a digest's notifications",
            vec![
                Statement::read(
                    format!("SELECT {COLUMNS} FROM notifications WHERE {VISIBLE} AND {range} ORDER BY seq LIMIT ?9"),
                    listed,
                ),
                Statement::read(
                    format!("SELECT COUNT(*) AS total FROM notifications WHERE {VISIBLE} AND {range}"),
                    params,
                ),
            ],
        )
        .await?;
    let items = outcomes
        .first()
        .map(|o| crate::db::decode::<Stored>("reading a digest's notifications", o))
        .transpose()?
        .unwrap_or_default();
    let total = outcomes
        .get(1)
        .map(|o| crate::db::decode::<Total>("counting a digest's notifications", o))
        .transpose()?
        .and_then(|rows| rows.into_iter().next())
        .map_or(items.len(), |t| t.0);
    Ok((items, total))
}

/// Deletes the notifications expired by `now`; returns how many.
pub fn purge_expired(now: EpochMs) -> Statement {
    Statement::write(
        &NOTIFICATIONS,
        "DELETE FROM notifications WHERE expires_at IS NOT NULL AND expires_at <= ?",
        vec![now.into()],
    )
}
