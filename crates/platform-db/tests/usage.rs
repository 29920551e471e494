//! platform-usage's ledger against SQLite with the real migrations: idempotent counting, typed
//! breaker rows, the sweep's due resets, warnings, retention, activity and the query plans.

use std::collections::{BTreeMap, BTreeSet};

use platform_core::breaker::{FeatureBreaker, Level, ProjectBreaker};
use platform_core::telemetry::Telemetry;
use platform_core::usage::{BatchUsage, MetricTotals, Subject};
use platform_core::{FeatureKey, Metric, ProjectId};
use platform_db::sqlite::Sqlite;
use platform_db::usage::admin::{self, RejectStatus};
use platform_db::usage::ledger::{self, ByMinute, RejectKind, Snapshot, Transaction};
use platform_db::usage::{activity, rollup, settings, sweep};
use platform_db::{alerts, retention, Db, DbError, Metered};
use platform_kv::block_on;
use platform_kv::PlatformWorker::PlatformUsage;
use serde_json::json;

const DAY: u64 = 86_400_000;
/// 2026-03-02T12:00:00Z.
const NOON: u64 = 1_772_452_800_000;
const PERIODS: [&str; 2] = ["2026-03-02", "2026-03"];

fn feature(raw: &str) -> FeatureKey {
    FeatureKey::parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}"))
}

fn project(raw: &str) -> ProjectId {
    ProjectId::parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}"))
}

fn ids(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|id| (*id).to_owned()).collect()
}

/// The ids as received in one enqueue minute.
fn receipt(ids_: &[&str]) -> ByMinute {
    [(ledger::minute_of(NOON), ids(ids_))].into()
}

fn totals(pairs: &[(Metric, f64)]) -> MetricTotals {
    pairs.iter().copied().collect()
}

/// One message per feature at `at`, with these camelCase metrics.
fn usage(features: &[&FeatureKey], metrics: serde_json::Value, at: u64) -> BatchUsage {
    let mut usage = BatchUsage::default();
    for feature in features {
        let body = json!({"feature_key": feature.as_str(), "metrics": metrics.clone(), "timestamp": at});
        usage.add(&Telemetry::parse(&body, at).unwrap_or_else(|e| panic!("{e}")));
    }
    usage
}

/// The state of the features, read as a batch's transaction ends (here with nothing written).
fn snapshot<S: platform_db::Sql>(db: &Db<S>, features: &[FeatureKey]) -> Snapshot {
    block_on(Transaction::new(NOON).commit_and_read(db, features, PERIODS)).unwrap_or_else(|e| panic!("{e}"))
}

fn count(sqlite: &Sqlite, sql: &str) -> Result<u64, DbError> {
    let rows = sqlite.select(sql)?;
    Ok(rows.first().and_then(|r| r.get::<u64>("n").ok()).unwrap_or(0))
}

#[test]
fn a_redelivered_message_refuses_its_batch_whole_and_is_never_counted_twice() -> Result<(), DbError> {
    let sqlite = Sqlite::migrated()?;
    let db = Db::new(sqlite.clone(), PlatformUsage);
    let api = feature("app:api:main");
    let reads = json!({"kvReads": 3});

    let mut tx = Transaction::new(NOON);
    tx.count(
        &receipt(&["m1", "m2", "m3"]),
        &usage(&[&api], reads.clone(), NOON),
    );
    let first = block_on(tx.commit_and_read(&db, std::slice::from_ref(&api), PERIODS))?;
    let today = (Subject::Feature(api.clone()), PERIODS[0].to_owned());
    assert_eq!(
        first.totals.get(&today),
        Some(&totals(&[(Metric::KvReads, 3.0)])),
        "read after counting"
    );

    // A batch repeating m2 is refused by the receipts' trigger, with everything it would add...
    let mut tx = Transaction::new(NOON + 1);
    tx.count(&receipt(&["m4", "m2"]), &usage(&[&api], reads.clone(), NOON));
    let refused = block_on(tx.commit_and_read(&db, std::slice::from_ref(&api), PERIODS));
    let error = refused
        .err()
        .ok_or_else(|| DbError::backend("test", "the redelivery was counted"))?;
    assert!(ledger::already_counted(&error), "{error}");
    assert_eq!(
        snapshot(&db, std::slice::from_ref(&api)).totals.get(&today),
        first.totals.get(&today)
    );
    // ...and the receipts tell which of its messages to leave out.
    let counted = block_on(ledger::counted(&db, &receipt(&["m4", "m2"])))?;
    assert_eq!(counted, ["m2".to_owned()].into());
    let mut tx = Transaction::new(NOON + 2);
    tx.count(&receipt(&["m4"]), &usage(&[&api], reads, NOON));
    let after = block_on(tx.commit_and_read(&db, std::slice::from_ref(&api), PERIODS))?;
    assert_eq!(after.totals.get(&today), Some(&totals(&[(Metric::KvReads, 6.0)])));
    assert_eq!(
        count(&sqlite, "SELECT count(*) AS n FROM telemetry_receipts")?,
        2,
        "one row per batch and minute"
    );
    Ok(())
}

#[test]
fn usage_accumulates_per_feature_project_and_period_in_a_few_rows() -> Result<(), DbError> {
    let sqlite = Sqlite::migrated()?;
    let db = Db::new(sqlite.clone(), PlatformUsage);
    let (api, web) = (feature("app:api:main"), feature("app:web:main"));
    for (i, (f, reads)) in [(&api, 3.0), (&api, 4.5), (&web, 1.0)].into_iter().enumerate() {
        let mut tx = Transaction::new(NOON + i as u64);
        tx.count(
            &receipt(&[&format!("m{i}")]),
            &usage(&[f], json!({"kvReads": reads, "d1Writes": 1}), NOON),
        );
        block_on(tx.commit(&db, "a batch"))?;
    }
    let snapshot = snapshot(&db, &[api.clone(), web.clone()]);
    let total = |subject: Subject, period: &str| snapshot.totals.get(&(subject, period.to_owned())).cloned();
    let api_today = totals(&[(Metric::KvReads, 7.5), (Metric::D1Writes, 2.0)]);
    assert_eq!(
        total(Subject::Feature(api.clone()), PERIODS[0]),
        Some(api_today.clone())
    );
    assert_eq!(total(Subject::Feature(api.clone()), PERIODS[1]), Some(api_today));
    assert_eq!(
        total(Subject::Project(project("app")), PERIODS[0]),
        Some(totals(&[(Metric::KvReads, 8.5), (Metric::D1Writes, 3.0)]))
    );
    assert_eq!(
        total(Subject::Project(project("app")), PERIODS[1]),
        Some(totals(&[(Metric::KvReads, 8.5), (Metric::D1Writes, 3.0)]))
    );
    assert_eq!(snapshot.totals.len(), 6, "{:?}", snapshot.totals.keys());
    assert!(snapshot.skipped.is_empty(), "{:?}", snapshot.skipped);
    // Two features, each in its shard, each with a day row and a month row.
    let shards = [rollup::shard(&api), rollup::shard(&web)]
        .into_iter()
        .collect::<BTreeSet<_>>()
        .len() as u64;
    assert_eq!(
        count(&sqlite, "SELECT count(*) AS n FROM usage_rollups")?,
        2 * shards
    );
    Ok(())
}

#[test]
fn a_thousand_features_stay_in_two_rows_per_shard() -> Result<(), DbError> {
    let sqlite = Sqlite::migrated()?;
    let db = Db::new(Metered::new(sqlite.clone()), PlatformUsage);
    let features: Vec<FeatureKey> = (0..1000).map(|i| feature(&format!("big:api:f{i}"))).collect();
    for (n, chunk) in features.chunks(100).enumerate() {
        let mut tx = Transaction::new(NOON);
        let minute = [(ledger::minute_of(NOON), vec![format!("batch-{n}")])].into();
        tx.count(
            &minute,
            &usage(&chunk.iter().collect::<Vec<_>>(), json!({"kvReads": 1}), NOON),
        );
        block_on(tx.commit(&db, "a batch"))?;
    }
    let rows = count(&sqlite, "SELECT count(*) AS n FROM usage_rollups")?;
    assert_eq!(rows, 2 * u64::from(rollup::SHARDS));
    let snapshot = snapshot(&db, &features[..3]);
    let project_today = snapshot
        .totals
        .get(&(Subject::Project(project("big")), PERIODS[0].into()));
    assert_eq!(project_today, Some(&totals(&[(Metric::KvReads, 1000.0)])));
    Ok(())
}

#[test]
fn activity_keeps_each_features_hours_and_latest_message() -> Result<(), DbError> {
    let sqlite = Sqlite::migrated()?;
    let db = Db::new(sqlite.clone(), PlatformUsage);
    let (api, beat) = (feature("app:api:main"), feature("app:cron:beat"));
    let hour = 3_600_000;
    for (n, at) in [NOON - 3 * hour, NOON + 5, NOON + 2 * hour, NOON - 3 * hour + 7]
        .into_iter()
        .enumerate()
    {
        let mut tx = Transaction::new(at);
        let mut batch = usage(&[&api], json!({"kvReads": 1}), at);
        let body =
            json!({"feature_key": beat.as_str(), "metrics": {}, "is_heartbeat": true, "timestamp": at});
        batch.add(&Telemetry::parse(&body, at).unwrap_or_else(|e| panic!("{e}")));
        tx.count(&[(ledger::minute_of(at), vec![format!("m{n}")])].into(), &batch);
        block_on(tx.commit(&db, "a batch"))?;
    }
    let heard = block_on(activity::recent(
        &db,
        &[PERIODS[0].to_owned(), "2026-03-01".to_owned()],
    ))?;
    assert_eq!(heard.len(), 2, "{heard:?}");
    for activity in &heard {
        assert_eq!(activity.day, PERIODS[0]);
        assert_eq!(activity.hours, [9, 12, 14].into(), "{}", activity.feature);
        assert_eq!(activity.last_seen, NOON + 2 * hour);
    }
    Ok(())
}

#[test]
fn project_totals_add_up_every_feature_of_the_projects_asked_for() -> Result<(), DbError> {
    let sqlite = Sqlite::migrated()?;
    let db = Db::new(sqlite.clone(), PlatformUsage);
    let (a, b, other) = (
        feature("app:api:a"),
        feature("app:cron:b"),
        feature("other:api:x"),
    );
    let mut tx = Transaction::new(NOON);
    tx.count(
        &receipt(&["m1"]),
        &usage(&[&a, &b, &other], json!({"kvWrites": 3}), NOON),
    );
    block_on(tx.commit(&db, "a batch"))?;
    let asked = BTreeSet::from([project("app")]);
    let read = block_on(activity::project_totals(&db, &asked, &PERIODS))?;
    let expected = totals(&[(Metric::KvWrites, 6.0)]);
    assert_eq!(
        read,
        BTreeMap::from([
            ((project("app"), PERIODS[0].to_owned()), expected.clone()),
            ((project("app"), PERIODS[1].to_owned()), expected),
        ])
    );
    assert!(block_on(activity::project_totals(&db, &BTreeSet::new(), &PERIODS))?.is_empty());
    Ok(())
}

#[test]
fn rows_that_do_not_parse_are_skipped_and_reported() -> Result<(), DbError> {
    let sqlite = Sqlite::migrated()?;
    let db = Db::new(sqlite.clone(), PlatformUsage);
    let api = feature("app:api:main");
    sqlite.execute(
        "INSERT INTO usage_rollups VALUES ('app', '2026-03-02', 0, '{\"app:api:main kv_reads\": 2, \"app:api:main no_such_metric\": 5}', NULL, 0), \
         ('app', '2026-03-02', 1, 'not json', NULL, 0); \
         INSERT INTO feature_breakers (feature_key, open, manual, consecutive_trips) VALUES ('app:api:main', 7, 0, 0);",
    )?;
    let snapshot = snapshot(&db, std::slice::from_ref(&api));
    assert_eq!(
        snapshot.totals.get(&(Subject::Feature(api), PERIODS[0].into())),
        Some(&totals(&[(Metric::KvReads, 2.0)]))
    );
    assert!(snapshot.feature_breakers.is_empty());
    assert_eq!(snapshot.skipped.len(), 3, "{:?}", snapshot.skipped);
    Ok(())
}

#[test]
fn breakers_round_trip_typed() -> Result<(), DbError> {
    let sqlite = Sqlite::migrated()?;
    let db = Db::new(sqlite.clone(), PlatformUsage);
    let api = feature("app:api:main");
    let open = FeatureBreaker {
        open: true,
        manual: true,
        reason: Some("disabled by an operator".into()),
        tripped_at: Some(NOON),
        auto_reset_at: None,
        consecutive_trips: 3,
        last_reset_at: Some(NOON - DAY),
        exempt_until: None,
    };
    let paused = ProjectBreaker {
        level: Level::Paused,
        manual: false,
        reason: Some("daily budget".into()),
        since: Some(NOON),
        auto_reset_at: Some(NOON + DAY / 2),
        exempt_until: Some(NOON + DAY),
    };
    let mut tx = Transaction::new(NOON);
    tx.set_feature_breaker(&api, &open);
    tx.set_project_breaker(&project("app"), &paused);
    block_on(tx.commit(&db, "storing breakers"))?;

    assert_eq!(block_on(admin::feature_breaker(&db, &api))?, open);
    assert_eq!(block_on(admin::project_breaker(&db, &project("app")))?, paused);
    // Stored as the integers and words the schema declares.
    let row = &sqlite.select("SELECT open, manual, tripped_at, auto_reset_at FROM feature_breakers")?[0];
    assert_eq!(row.get::<i64>("open").ok(), Some(1));
    assert_eq!(row.get::<u64>("tripped_at").ok(), Some(NOON));
    assert_eq!(row.get::<Option<u64>>("auto_reset_at").ok(), Some(None));
    let level = &sqlite.select("SELECT level FROM project_breakers")?[0];
    assert_eq!(level.get::<String>("level").ok().as_deref(), Some("paused"));
    // A feature or project without a row reads as closed and active.
    assert_eq!(
        block_on(admin::feature_breaker(&db, &feature("app:api:other")))?,
        FeatureBreaker::default()
    );
    assert_eq!(
        block_on(admin::project_breaker(&db, &project("other")))?,
        ProjectBreaker::default()
    );

    let snapshot = snapshot(&db, std::slice::from_ref(&api));
    assert_eq!(snapshot.feature_breakers.get(&api), Some(&open));
    assert_eq!(snapshot.project_breakers.get(&project("app")), Some(&paused));
    Ok(())
}

#[test]
fn only_due_automatic_breakers_are_reset() -> Result<(), DbError> {
    let sqlite = Sqlite::migrated()?;
    let db = Db::new(sqlite.clone(), PlatformUsage);
    let trip = |manual: bool, auto_reset_at: Option<u64>| FeatureBreaker {
        open: true,
        manual,
        reason: Some("budget".into()),
        tripped_at: Some(NOON - DAY),
        auto_reset_at,
        consecutive_trips: 1,
        ..FeatureBreaker::default()
    };
    let pause = |level: Level, manual: bool, auto_reset_at: Option<u64>| ProjectBreaker {
        level,
        manual,
        since: Some(NOON - DAY),
        auto_reset_at,
        ..ProjectBreaker::default()
    };
    let mut tx = Transaction::new(NOON);
    tx.set_feature_breaker(&feature("a:api:due"), &trip(false, Some(NOON)));
    tx.set_feature_breaker(&feature("a:api:later"), &trip(false, Some(NOON + 1)));
    tx.set_feature_breaker(&feature("a:api:manual"), &trip(true, Some(NOON - 1)));
    tx.set_feature_breaker(&feature("a:api:waits"), &trip(false, None));
    tx.set_feature_breaker(
        &feature("a:api:closed"),
        &FeatureBreaker {
            auto_reset_at: Some(NOON - 1),
            ..FeatureBreaker::default()
        },
    );
    tx.set_project_breaker(&project("due"), &pause(Level::Paused, false, Some(NOON - 1)));
    tx.set_project_breaker(&project("manual"), &pause(Level::Paused, true, Some(NOON - 1)));
    tx.set_project_breaker(&project("warned"), &pause(Level::Warning, false, Some(NOON - 1)));
    tx.set_project_breaker(&project("later"), &pause(Level::Paused, false, Some(NOON + 1)));
    block_on(tx.commit(&db, "storing breakers"))?;

    let due = block_on(sweep::due_resets(&db, NOON))?;
    let features: Vec<&str> = due.features.iter().map(|r| r.feature.as_str()).collect();
    assert_eq!(features, ["a:api:due"]);
    assert_eq!(due.features[0].breaker, trip(false, Some(NOON)));
    let projects: Vec<&str> = due.projects.iter().map(|r| r.project.as_str()).collect();
    assert_eq!(projects, ["due"]);

    // The hourly reconciliation sees every open breaker and paused project, manual or not.
    let open = block_on(sweep::open_breakers(&db))?;
    assert_eq!(open.features.len(), 4);
    assert_eq!(open.projects.len(), 3);
    assert!(!open.global_stopped);
    block_on(db.run("stopping", admin::set_global_stop(true, "an operator", NOON)))?;
    assert!(block_on(sweep::open_breakers(&db))?.global_stopped);
    Ok(())
}

#[test]
fn a_warning_is_recorded_once_per_threshold() -> Result<(), DbError> {
    let sqlite = Sqlite::migrated()?;
    let db = Db::new(sqlite.clone(), PlatformUsage);
    let api = feature("app:api:main");
    let mut tx = Transaction::new(NOON);
    tx.warned(&api, Metric::KvReads, PERIODS[0], &[70, 90]);
    block_on(tx.commit(&db, "first warning"))?;
    let mut tx = Transaction::new(NOON + 1);
    tx.warned(&api, Metric::KvReads, PERIODS[0], &[90, 100]);
    tx.warned(&api, Metric::KvReads, PERIODS[1], &[70]);
    block_on(tx.commit(&db, "second warning"))?;

    let rows = sqlite.select(
        "SELECT threshold, sent_at FROM budget_warnings WHERE period = '2026-03-02' ORDER BY threshold",
    )?;
    let stored: Vec<(u8, u64)> = rows
        .iter()
        .map(|r| (r.get("threshold").unwrap_or(0), r.get("sent_at").unwrap_or(0)))
        .collect();
    assert_eq!(stored, [(70, NOON), (90, NOON), (100, NOON + 1)]);
    let warned = snapshot(&db, std::slice::from_ref(&api)).warned;
    assert_eq!(warned.len(), 4);
    assert!(warned.contains(&(api, Metric::KvReads, PERIODS[1].into(), 70)));
    Ok(())
}

#[test]
fn every_read_and_the_receipt_check_use_a_primary_key() -> Result<(), DbError> {
    let sqlite = Sqlite::migrated()?;
    let features = [feature("app:api:main"), feature("web:api:main")];
    let [totals, breakers, projects, warned] = ledger::snapshot_statements(&features, PERIODS);
    let plan = sqlite.plan(&totals[0])?;
    assert!(
        plan.iter().all(|line| !line.contains("SCAN usage_rollups")),
        "usage_rollups: {plan:?}"
    );
    assert!(plan.iter().any(|line| line.contains("PRIMARY KEY")), "{plan:?}");
    let receipts = platform_db::usage::receipts::insert(&receipt(&["m1"]));
    for statement in [&breakers[0], &projects[0], &warned[0], &receipts[0]] {
        let plan = sqlite.plan(statement)?;
        assert!(
            plan.iter().all(|line| !line.contains("SCAN t")),
            "{}: {plan:?}",
            statement.sql()
        );
    }
    Ok(())
}

#[test]
fn retention_forgets_old_message_ids_and_keeps_unsent_alerts() -> Result<(), DbError> {
    let sqlite = Sqlite::migrated()?;
    let db = Db::new(sqlite.clone(), PlatformUsage);
    let now = NOON + 30 * DAY;
    let nothing = BatchUsage::default();
    let mut old = Transaction::new(now - 15 * DAY - 1);
    old.count(
        &[(ledger::minute_of(now - 15 * DAY - 60_000), ids(&["old"]))].into(),
        &nothing,
    );
    let mut fresh = Transaction::new(now - 15 * DAY + 1);
    fresh.count(
        &[(ledger::minute_of(now - 15 * DAY + 60_000), ids(&["fresh"]))].into(),
        &nothing,
    );
    block_on(old.commit(&db, "old batch"))?;
    block_on(fresh.commit(&db, "fresh batch"))?;
    block_on(db.batch(
        "alerts",
        vec![
            alerts::enqueue("trip", "unsent", "never delivered", now - 300 * DAY),
            alerts::enqueue("trip", "sent", "delivered long ago", now - 300 * DAY),
        ],
    ))?;
    block_on(db.run("delivered", alerts::sent(2, None, now - 31 * DAY)))?;

    let swept = block_on(retention::sweep(&db, now))?;
    let deleted: BTreeMap<&str, u64> = swept.iter().map(|s| (s.table, s.deleted)).collect();
    assert_eq!(deleted.get("telemetry_receipts"), Some(&1));
    assert_eq!(deleted.get("alert_outbox"), Some(&1));
    let seen = sqlite.select("SELECT ids FROM telemetry_receipts")?;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].get::<String>("ids").ok().as_deref(), Some(r#"["fresh"]"#));
    assert_eq!(
        count(
            &sqlite,
            "SELECT count(*) AS n FROM alert_outbox WHERE sent_at IS NULL"
        )?,
        1
    );
    assert_eq!(count(&sqlite, "SELECT count(*) AS n FROM alert_outbox")?, 1);
    Ok(())
}

#[test]
fn a_total_past_any_real_amount_saturates_and_later_batches_still_count() -> Result<(), DbError> {
    let db = Db::new(Sqlite::migrated()?, PlatformUsage);
    let (huge, other) = (feature("big:api:huge"), feature("big:api:other"));
    for (i, f) in [&huge, &huge, &other].into_iter().enumerate() {
        let mut batch = usage(&[f], json!({"kvReads": 1}), NOON);
        // Past what one message may report: only the ledger's own bound keeps it finite.
        for amounts in batch.daily.values_mut().chain(batch.monthly.values_mut()) {
            amounts.values_mut().for_each(|amount| *amount = 1e300);
        }
        let mut tx = Transaction::new(NOON + i as u64);
        tx.count(&receipt(&[&format!("big{i}")]), &batch);
        block_on(tx.commit(&db, "a batch"))?;
    }
    let snapshot = snapshot(&db, &[huge.clone(), other.clone()]);
    let total = |subject: Subject| {
        snapshot
            .totals
            .get(&(subject, PERIODS[0].to_owned()))
            .and_then(|t| t.get(&Metric::KvReads).copied())
    };
    assert_eq!(total(Subject::Feature(huge)), Some(1e300), "saturated, not NULL");
    assert_eq!(
        total(Subject::Feature(other)),
        Some(1e300),
        "the project's next batch counted"
    );
    assert_eq!(
        total(Subject::Project(project("big"))),
        Some(2e300),
        "the sum of its features, finite"
    );
    assert!(snapshot.skipped.is_empty(), "{:?}", snapshot.skipped);
    Ok(())
}

#[test]
fn a_refused_message_is_kept_once_however_often_it_is_delivered() -> Result<(), DbError> {
    let db = Db::new(Sqlite::migrated()?, PlatformUsage);
    for delivery in 0..3 {
        let mut tx = Transaction::new(NOON + delivery);
        tx.reject(RejectKind::Rejected, "m1", "platform-telemetry", "not JSON", "x");
        tx.reject(
            RejectKind::DeadLetter,
            "m1",
            "platform-telemetry-dlq",
            "exhausted",
            "x",
        );
        block_on(tx.commit(&db, "rejects"))?;
    }
    let pending = block_on(admin::pending_rejects(&db))?;
    let kinds: Vec<RejectKind> = pending.iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        [RejectKind::Rejected, RejectKind::DeadLetter],
        "one replay each"
    );
    Ok(())
}

#[test]
fn rejected_telemetry_is_listed_until_resolved() -> Result<(), DbError> {
    let sqlite = Sqlite::migrated()?;
    let db = Db::new(sqlite.clone(), PlatformUsage);
    let mut tx = Transaction::new(NOON);
    tx.reject(RejectKind::Rejected, "m1", "platform-telemetry", "not JSON", "x");
    tx.reject(
        RejectKind::DeadLetter,
        "m2",
        "platform-telemetry-dlq",
        "exhausted",
        "{}",
    );
    block_on(tx.commit(&db, "rejects"))?;
    let pending = block_on(admin::pending_rejects(&db))?;
    assert_eq!(
        pending
            .iter()
            .map(|r| (r.kind, r.message_id.as_str()))
            .collect::<Vec<_>>(),
        [(RejectKind::Rejected, "m1"), (RejectKind::DeadLetter, "m2")]
    );
    assert_eq!(pending[0].received_at, NOON);
    block_on(db.run(
        "discard",
        admin::resolve_reject(pending[0].id, RejectStatus::Discarded, NOON + 1),
    ))?;
    let resolved = block_on(admin::reject(&db, pending[0].id))?.map(|r| r.status);
    assert_eq!(resolved, Some(RejectStatus::Discarded));
    assert_eq!(block_on(admin::pending_rejects(&db))?.len(), 1);
    assert_eq!(block_on(admin::reject(&db, 99))?, None);
    Ok(())
}

#[test]
fn status_shows_open_breakers_with_todays_usage_and_pending_alerts() -> Result<(), DbError> {
    let sqlite = Sqlite::migrated()?;
    let db = Db::new(Metered::new(sqlite.clone()), PlatformUsage);
    let api = feature("app:api:main");
    let mut tx = Transaction::new(NOON);
    tx.count(&receipt(&["m1"]), &usage(&[&api], json!({"kvReads": 5}), NOON));
    tx.count(
        &receipt(&["m2"]),
        &usage(&[&feature("app:web:main")], json!({"kvReads": 1}), NOON),
    );
    tx.set_feature_breaker(
        &api,
        &FeatureBreaker {
            open: true,
            tripped_at: Some(NOON),
            ..FeatureBreaker::default()
        },
    );
    tx.push(admin::set_global_stop(false, "released", NOON));
    tx.push(alerts::enqueue("trip", "app:api:main", "tripped", NOON));
    block_on(tx.commit(&db, "state"))?;
    let before = db.backend().counts().round_trips;

    let status = block_on(admin::status(&db, PERIODS[0]))?;
    assert_eq!(db.backend().counts().round_trips, before + 1, "one round trip");
    assert_eq!(status.features.len(), 1);
    assert_eq!(status.features[0].feature, api);
    assert_eq!(status.usage_today.len(), 1);
    assert_eq!(status.usage_today[0].value, 5.0);
    assert!(status.projects.is_empty());
    assert_eq!(status.global.map(|g| g.enabled), Some(false));
    assert_eq!(status.pending_alerts, 1);

    let usage = block_on(admin::feature_usage(&db, &api, "2026-03-01"))?;
    assert_eq!(usage.len(), 1, "daily totals only: {usage:?}");
    Ok(())
}

#[test]
fn settings_are_stored_and_resolved_over_the_defaults() -> Result<(), DbError> {
    let sqlite = Sqlite::migrated()?;
    let db = Db::new(sqlite.clone(), PlatformUsage);
    let values = vec![("budget_warning_thresholds".to_owned(), "50,80".to_owned())];
    block_on(db.batch("settings", settings::put(&values, NOON)))?;
    let replaced = vec![("budget_warning_thresholds".to_owned(), "60".to_owned())];
    block_on(db.batch("settings", settings::put(&replaced, NOON + 1)))?;
    let resolved = block_on(settings::resolved(&db))?;
    assert_eq!(resolved.settings.budget_warning_thresholds, [60]);
    assert!(resolved.problems.is_empty(), "{:?}", resolved.problems);
    Ok(())
}

#[test]
fn an_empty_transaction_costs_no_round_trip() -> Result<(), DbError> {
    let db = Db::new(Metered::new(Sqlite::migrated()?), PlatformUsage);
    let mut tx = Transaction::new(NOON);
    tx.count(&ByMinute::new(), &BatchUsage::default());
    tx.also(None);
    assert!(tx.is_empty());
    block_on(tx.commit(&db, "nothing"))?;
    assert_eq!(db.backend().counts().round_trips, 0);
    Ok(())
}

#[test]
fn a_feature_key_with_quotes_and_backslashes_adds_up_like_any_other() -> Result<(), DbError> {
    let sqlite = Sqlite::migrated()?;
    let db = Db::new(sqlite.clone(), PlatformUsage);
    let odd = feature(r#"app:say"hi":back\slash%22"#);
    for n in 0..2 {
        let mut tx = Transaction::new(NOON + n);
        tx.count(
            &receipt(&[&format!("m{n}")]),
            &usage(&[&odd], json!({"kvReads": 2}), NOON),
        );
        block_on(tx.commit(&db, "a batch"))?;
    }
    let snapshot = snapshot(&db, std::slice::from_ref(&odd));
    let today = snapshot
        .totals
        .get(&(Subject::Feature(odd.clone()), PERIODS[0].to_owned()));
    assert_eq!(today, Some(&totals(&[(Metric::KvReads, 4.0)])));
    let heard = block_on(activity::recent(&db, &[PERIODS[0].to_owned()]))?;
    assert_eq!(heard.iter().map(|a| &a.feature).collect::<Vec<_>>(), [&odd]);
    Ok(())
}

#[test]
fn a_feature_or_project_is_known_once_declared_tripped_or_counted() -> Result<(), DbError> {
    let sqlite = Sqlite::migrated()?;
    let db = Db::new(sqlite.clone(), PlatformUsage);
    let (counted, tripped, typo) = (
        feature("app:api:main"),
        feature("ops:cron:nightly"),
        feature("nope:x:y"),
    );
    let known = |f: &FeatureKey| block_on(admin::feature_known(&db, f, PERIODS[0]));
    assert!(!known(&counted)?);
    let mut tx = Transaction::new(NOON);
    tx.count(
        &receipt(&["k1"]),
        &usage(&[&counted], json!({"kvReads": 1}), NOON),
    );
    tx.set_feature_breaker(&tripped, &FeatureBreaker::default().disable("maintenance", NOON));
    block_on(tx.commit(&db, "a batch"))?;
    assert!(known(&counted)?, "usage on record");
    assert!(known(&tripped)?, "a breaker row");
    assert!(!known(&typo)?);
    assert!(
        !block_on(admin::feature_known(&db, &counted, "2026-03-03"))?,
        "usage before `since` only"
    );
    let project_known = |p: &str| block_on(admin::project_known(&db, &project(p)));
    assert!(project_known("app")?, "usage on record");
    assert!(
        !project_known("ops")?,
        "a feature breaker alone does not declare its project"
    );
    assert!(!project_known("nope")?);
    Ok(())
}
