//! The notifications inbox and the outbox's inbox delivery against SQLite with the real migrations.

use platform_db::notifications::{self as inbox, Viewer};
use platform_db::sqlite::Sqlite;
use platform_db::tables::{Retention, NOTIFICATIONS};
use platform_db::{alerts, Db, DbError};
use platform_kv::block_on;
use platform_kv::PlatformWorker::{Notifications, PlatformUsage};
use platform_notifications::contract::{Category, Priority};
use platform_notifications::inbox::{Filter, RETENTION_DAYS};
use platform_notifications::{Audience, NotificationInput, Person, Prefs};

const NOW: u64 = 1_772_400_000_000;
const HOUR: u64 = 3_600_000;

fn person(id: &str, role: &str) -> Person {
    Person {
        id: id.to_owned(),
        role: role.to_owned(),
        email: Some(format!("{id}@example.com")),
        display_name: None,
    }
}

fn input(key: &str, audience: Audience) -> NotificationInput {
    NotificationInput {
        dedup_key: key.to_owned(),
        source: "platform-usage".into(),
        category: Category::Breaker,
        priority: Priority::High,
        title: format!("about {key}"),
        body: None,
        audience,
        action_url: None,
        expires_at: None,
        slack_posted: false,
    }
}

fn create(db: &Db<Sqlite>, input: &NotificationInput, now: u64) -> Result<bool, DbError> {
    Ok(!block_on(db.run("creating", inbox::insert(input, now)))?
        .rows
        .is_empty())
}

fn seen(
    db: &Db<Sqlite>,
    who: &Person,
    prefs: &Prefs,
    filter: &Filter,
    watermark: u64,
) -> Result<Vec<String>, DbError> {
    let viewer = Viewer { person: who, prefs };
    let rows = block_on(inbox::page(db, viewer, filter, watermark, NOW + HOUR))?;
    Ok(rows.into_iter().map(|r| r.title).collect())
}

fn all() -> Filter {
    Filter {
        limit: 100,
        ..Filter::default()
    }
}

#[test]
fn a_dedup_key_makes_one_notification() -> Result<(), DbError> {
    let db = Db::new(Sqlite::migrated()?, Notifications);
    let trip = input("alert_outbox:1", Audience::Everyone);
    assert!(create(&db, &trip, NOW)?);
    assert!(!create(&db, &trip, NOW + 1)?, "a retried delivery");
    assert_eq!(block_on(inbox::seq_of(&db, "alert_outbox:1"))?, Some(1));
    assert_eq!(block_on(inbox::latest_seq(&db))?, 1);
    // Only the notifications worker writes them.
    let usage = Db::new(db.backend().clone(), PlatformUsage);
    assert!(block_on(usage.run("creating", inbox::insert(&input("x", Audience::Everyone), NOW))).is_err());
    Ok(())
}

#[test]
fn the_sql_audience_is_the_domain_audience() -> Result<(), DbError> {
    let db = Db::new(Sqlite::migrated()?, Notifications);
    let team = [
        person("ann", "operator"),
        person("bob", "developer"),
        person("cy", "operator"),
    ];
    let audiences = [
        Audience::Everyone,
        Audience::Role("operator".into()),
        Audience::Role("developer".into()),
        Audience::People(vec!["bob".into(), "cy".into()]),
        Audience::People(vec!["zed".into()]),
    ];
    for (i, audience) in audiences.iter().enumerate() {
        create(&db, &input(&format!("n{i}"), audience.clone()), NOW)?;
    }
    for member in &team {
        let expected: Vec<String> = audiences
            .iter()
            .enumerate()
            .rev()
            .filter(|(_, audience)| audience.includes(member))
            .map(|(i, _)| format!("about n{i}"))
            .collect();
        assert_eq!(
            seen(&db, member, &Prefs::default(), &all(), 0)?,
            expected,
            "{}",
            member.id
        );
        for seq in 1..=audiences.len() as u64 {
            let visible = block_on(inbox::get(&db, member, seq, NOW))?.is_some();
            assert_eq!(visible, audiences[seq as usize - 1].includes(member));
        }
    }
    Ok(())
}

#[test]
fn mutes_filters_expiry_and_pages_apply() -> Result<(), DbError> {
    let db = Db::new(Sqlite::migrated()?, Notifications);
    let ann = person("ann", "operator");
    let mut budget = input("budget", Audience::Everyone);
    budget.category = Category::Budget;
    let mut pattern = input("pattern", Audience::Everyone);
    pattern.source = "pattern-discovery".into();
    pattern.category = Category::Pattern;
    let mut expiring = input("expiring", Audience::Everyone);
    expiring.expires_at = Some(NOW + 1);
    let mut old = input("old", Audience::Everyone);
    old.priority = Priority::Low;
    create(&db, &old, NOW + HOUR - u64::from(RETENTION_DAYS) * 24 * HOUR)?;
    for n in [&budget, &pattern, &expiring, &input("trip", Audience::Everyone)] {
        create(&db, n, NOW)?;
    }
    let prefs = Prefs::from_json(&serde_json::json!({
        "muted_sources": ["pattern-discovery"], "muted_categories": ["budget"]
    }))
    .map_err(|e| DbError::decode("prefs", e))?;
    // The old one is beyond retention, the expiring one expired, two are muted.
    assert_eq!(seen(&db, &ann, &prefs, &all(), 0)?, ["about trip"]);
    assert_eq!(
        seen(&db, &ann, &Prefs::default(), &all(), 0)?,
        ["about trip", "about pattern", "about budget"]
    );
    let by_source = Filter {
        source: Some("pattern-discovery".into()),
        ..all()
    };
    assert_eq!(
        seen(&db, &ann, &Prefs::default(), &by_source, 0)?,
        ["about pattern"]
    );
    let unread_after_3 = Filter {
        unread: true,
        ..all()
    };
    assert_eq!(
        seen(&db, &ann, &Prefs::default(), &unread_after_3, 4)?,
        ["about trip"]
    );
    let page = Filter {
        before: Some(5),
        limit: 1,
        ..all()
    };
    assert_eq!(seen(&db, &ann, &Prefs::default(), &page, 0)?, ["about pattern"]);

    let viewer = Viewer {
        person: &ann,
        prefs: &prefs,
    };
    let candidates = block_on(inbox::unread_candidates(&db, viewer, 0, 1000, NOW + HOUR))?;
    assert_eq!(candidates, [(5, None)]);
    Ok(())
}

#[test]
fn the_watermark_only_moves_forward_and_tokens_resolve_until_revoked() -> Result<(), DbError> {
    let db = Db::new(Sqlite::migrated()?, Notifications);
    let ann = person("ann", "operator");
    assert!(block_on(inbox::add_person(&db, &ann, NOW))?);
    assert!(!block_on(inbox::add_person(&db, &ann, NOW))?);
    block_on(inbox::read_through(&db, "ann", 7))?;
    block_on(inbox::read_through(&db, "ann", 3))?;
    let member = block_on(inbox::member_by_email(&db, "ann@example.com"))?;
    assert_eq!(member.map(|m| m.read_through), Some(7));

    block_on(db.run(
        "issuing",
        inbox::add_token("hash-1", "id-1", "ann", Some("laptop"), NOW),
    ))?;
    assert_eq!(
        block_on(inbox::member_by_token(&db, "hash-1"))?.map(|m| m.person),
        Some(ann.clone())
    );
    assert!(
        !block_on(inbox::revoke_token(&db, "bob", "id-1", NOW))?,
        "another person's token"
    );
    assert!(block_on(inbox::revoke_token(&db, "ann", "id-1", NOW))?);
    assert_eq!(block_on(inbox::member_by_token(&db, "hash-1"))?, None);
    assert_eq!(block_on(inbox::tokens(&db, "ann"))?[0].revoked_at, Some(NOW));

    block_on(db.run("issuing", inbox::add_token("hash-2", "id-2", "ann", None, NOW)))?;
    assert!(block_on(inbox::remove_person(&db, "ann", NOW))?);
    assert_eq!(block_on(inbox::member_by_token(&db, "hash-2"))?, None);
    assert!(block_on(inbox::people(&db))?.is_empty());
    Ok(())
}

#[test]
fn the_purge_deletes_expired_rows_and_retention_old_ones() -> Result<(), DbError> {
    let sqlite = Sqlite::migrated()?;
    let db = Db::new(sqlite.clone(), Notifications);
    let mut expired = input("expired", Audience::Everyone);
    expired.expires_at = Some(NOW + HOUR);
    let mut later = input("later", Audience::Everyone);
    later.expires_at = Some(NOW + 3 * HOUR);
    for n in [&expired, &later, &input("kept", Audience::Everyone)] {
        create(&db, n, NOW)?;
    }
    let purged = block_on(db.run("purging", inbox::purge_expired(NOW + 2 * HOUR)))?;
    assert_eq!(purged.changes, 1);
    let left = sqlite.select("SELECT dedup_key FROM notifications ORDER BY seq")?;
    let keys: Vec<String> = left.iter().filter_map(|r| r.get("dedup_key").ok()).collect();
    assert_eq!(keys, ["later", "kept"]);
    // The registry's retention is the inbox's: read keys expire with their notifications.
    assert_eq!(
        NOTIFICATIONS.retention,
        Retention::Days {
            column: "created_at",
            days: RETENTION_DAYS
        }
    );
    Ok(())
}

#[test]
fn a_digest_reads_its_period() -> Result<(), DbError> {
    let db = Db::new(Sqlite::migrated()?, Notifications);
    let ann = person("ann", "operator");
    create(&db, &input("before", Audience::Everyone), NOW - 1)?;
    for i in 0..3 {
        create(&db, &input(&format!("in{i}"), Audience::Everyone), NOW + i)?;
    }
    create(&db, &input("after", Audience::Everyone), NOW + HOUR)?;
    let prefs = Prefs::default();
    let viewer = Viewer {
        person: &ann,
        prefs: &prefs,
    };
    let (items, total) = block_on(inbox::period_items(&db, viewer, NOW, NOW + HOUR, 2))?;
    let titles: Vec<&str> = items.iter().map(|i| i.title.as_str()).collect();
    assert_eq!((titles, total), (vec!["about in0", "about in1"], 3));
    Ok(())
}

#[test]
fn each_outbox_row_reaches_the_inbox_once_and_slack_once() -> Result<(), DbError> {
    let sqlite = Sqlite::migrated()?;
    let usage = Db::new(sqlite.clone(), PlatformUsage);
    block_on(usage.batch("storing", vec![alerts::enqueue("trip", "a", "tripped", 1)]))?;
    let both = alerts::Channels {
        slack: true,
        inbox: true,
    };
    let claimed = block_on(alerts::claim_for(&usage, both, 25, HOUR))?;
    assert_eq!((claimed[0].for_slack, claimed[0].for_inbox), (true, true));
    // Slack took it, the inbox failed: the row comes back for the inbox only.
    let id = claimed[0].id;
    block_on(usage.batch(
        "recording",
        vec![alerts::sent(id, None, HOUR), alerts::release(id)],
    ))?;
    assert!(block_on(alerts::claim(&usage, 25, HOUR + 1))?.is_empty());
    let again = block_on(alerts::claim_for(&usage, both, 25, HOUR + 1))?;
    assert_eq!((again[0].for_slack, again[0].for_inbox), (false, true));
    block_on(usage.run("recording", alerts::inboxed(id, HOUR + 2)))?;
    block_on(usage.run("releasing", alerts::release(id)))?;
    assert!(block_on(alerts::claim_for(&usage, both, 25, 2 * HOUR))?.is_empty());

    // The inbox's own Slack messages are stored once and never go back to the inbox.
    let notifications = Db::new(sqlite.clone(), Notifications);
    for _ in 0..2 {
        block_on(notifications.run(
            "storing",
            alerts::enqueue_once_for_slack("digest", "ann:daily:0", "digest", 3 * HOUR),
        ))?;
    }
    let inbox_only = alerts::Channels {
        slack: false,
        inbox: true,
    };
    assert!(block_on(alerts::claim_for(&notifications, inbox_only, 25, 3 * HOUR))?.is_empty());
    let slack = block_on(alerts::claim(&notifications, 25, 3 * HOUR))?;
    assert_eq!(slack.len(), 1);
    Ok(())
}
