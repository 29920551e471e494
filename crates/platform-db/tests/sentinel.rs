//! The sentinel's incidents and silences, and its reads of the usage ledger, against SQLite with
//! the real migrations.

use platform_core::telemetry::Telemetry;
use platform_core::usage::BatchUsage;
use platform_core::{FeatureKey, Metric, ProjectId};
use platform_db::sqlite::Sqlite;
use platform_db::usage::activity;
use platform_db::usage::ledger::{ByMinute, Transaction};
use platform_db::{sentinel, Db, DbError};
use platform_kv::block_on;
use platform_kv::PlatformWorker::{PlatformUsage, Sentinel};
use platform_sentinel::incident::{Finding, IncidentKind};
use platform_sentinel::silences::Matcher;
use serde_json::json;

fn feature(raw: &str) -> FeatureKey {
    FeatureKey::parse(raw).unwrap_or_else(|e| panic!("{e}"))
}

fn gap(subject: &str) -> Finding {
    Finding {
        kind: IncidentKind::Gap,
        subject: subject.into(),
        project: Some(feature(subject).project()),
        feature: Some(feature(subject)),
        since: 10,
        summary: format!("{subject} is silent"),
        detail: serde_json::json!({ "silent_ms": 5 }),
    }
}

#[test]
fn an_incident_is_open_once_until_it_closes() -> Result<(), DbError> {
    let db = Db::new(Sqlite::migrated()?, Sentinel);
    block_on(db.run("open", sentinel::open(&gap("app:api:search"), None, 100)))?;
    // A second opening of the same gap is refused by the open-incident index.
    let again = block_on(db.run("open", sentinel::open(&gap("app:api:search"), None, 200)))?;
    assert_eq!(again.changes, 0);
    let open = block_on(sentinel::open_incidents(&db))?;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].open.opened_at, 100);
    assert_eq!(open[0].detail["silent_ms"], 5);
    block_on(db.run("close", sentinel::close(open[0].id, 300)))?;
    assert!(block_on(sentinel::open_incidents(&db))?.is_empty());
    // The next gap of the same feature is a new incident.
    block_on(db.run("open", sentinel::open(&gap("app:api:search"), None, 400)))?;
    let latest = block_on(sentinel::latest(&db, IncidentKind::Gap, 10))?;
    assert_eq!(
        latest.iter().map(|i| i.closed_at).collect::<Vec<_>>(),
        [None, Some(300)]
    );
    Ok(())
}

#[test]
fn only_the_sentinel_writes_its_tables() -> Result<(), DbError> {
    let usage = Db::new(Sqlite::migrated()?, PlatformUsage);
    let refused = block_on(usage.run("open", sentinel::open(&gap("app:api:search"), None, 1)));
    assert!(refused.is_err());
    Ok(())
}

#[test]
fn a_silence_lasts_until_it_expires_or_is_ended() -> Result<(), DbError> {
    let db = Db::new(Sqlite::migrated()?, Sentinel);
    let matcher = Matcher {
        project: Some(ProjectId::parse("app").unwrap_or_else(|e| panic!("{e}"))),
        feature: None,
        kind: Some(IncidentKind::Gap),
    };
    let silence = block_on(sentinel::add_silence(&db, matcher.clone(), "deploy", 1_000, 100))?;
    assert_eq!(silence.matcher, matcher);
    assert_eq!(block_on(sentinel::silences(&db, 500))?.len(), 1);
    assert!(block_on(sentinel::silences(&db, 1_000))?.is_empty());
    assert!(block_on(sentinel::end_silence(&db, silence.id, 600))?);
    assert!(block_on(sentinel::silences(&db, 601))?.is_empty());
    assert!(!block_on(sentinel::end_silence(&db, silence.id, 700))?);
    Ok(())
}

#[test]
fn activity_and_daily_usage_read_the_ledger_by_day() -> Result<(), DbError> {
    let sqlite = Sqlite::migrated()?;
    let usage = Db::new(sqlite.clone(), PlatformUsage);
    let search = feature("app:api:search");
    let mut batch = BatchUsage::default();
    // 2026-03-02T14:05Z: usage; 2026-03-03T05:10Z: a heartbeat.
    for body in [
        json!({"feature_key": search.as_str(), "metrics": {"kvWrites": 40}, "timestamp": 1_772_460_306_789_u64}),
        json!({"feature_key": "app:do:room", "metrics": {}, "is_heartbeat": true, "timestamp": 1_772_514_600_000_u64}),
    ] {
        let at = body["timestamp"].as_u64().unwrap_or_default();
        batch.add(&Telemetry::parse(&body, at).map_err(|e| DbError::decode("test", e))?);
    }
    let mut tx = Transaction::new(1);
    tx.count(&ByMinute::new(), &batch);
    block_on(tx.commit(&usage, "usage"))?;
    let db = Db::new(sqlite, Sentinel);
    let days = ["2026-03-02".to_owned(), "2026-03-03".to_owned()];
    let heard = block_on(activity::recent(&db, &days))?;
    assert_eq!(heard.len(), 2);
    let searched = heard
        .iter()
        .find(|a| a.feature == search)
        .unwrap_or_else(|| panic!());
    assert_eq!(
        (
            searched.day.as_str(),
            searched.hours.iter().copied().collect::<Vec<_>>()
        ),
        ("2026-03-02", vec![14])
    );
    let room = heard
        .iter()
        .find(|a| a.feature == feature("app:do:room"))
        .unwrap_or_else(|| panic!());
    assert_eq!(room.hours.iter().copied().collect::<Vec<_>>(), [5]);
    assert_eq!(room.last_seen, 1_772_514_600_000);
    let daily = block_on(activity::daily_usage(&db, &days))?;
    assert_eq!(daily.len(), 1);
    assert_eq!(daily[0].usage[&Metric::KvWrites], 40.0);
    // The dashboard's read: the same amounts, summed over the shards inside SQLite.
    let totals = block_on(activity::day_totals(&db, "2026-03-01", "2026-03-31"))?;
    assert_eq!(totals.len(), 1);
    assert_eq!(
        (
            totals[0].feature.as_str(),
            totals[0].day.as_str(),
            totals[0].metric,
            totals[0].value
        ),
        ("app:api:search", "2026-03-02", Metric::KvWrites, 40.0)
    );
    assert!(block_on(activity::day_totals(&db, "2026-04-01", "2026-04-30"))?.is_empty());
    assert!(block_on(activity::day_totals(&db, "March", "2026-03-31")).is_err());
    assert!(block_on(activity::recent(&db, &["March".to_owned()])).is_err());
    Ok(())
}
