//! platform-usage's ledger against SQLite with the real migrations: idempotent counting, typed
//! breaker rows, the sweep's due resets, warnings, retention and the snapshot's query plan.

use std::collections::BTreeMap;

use platform_core::breaker::{FeatureBreaker, Level, ProjectBreaker};
use platform_core::usage::{MetricTotals, Subject};
use platform_core::{FeatureKey, Metric, ProjectId};
use platform_db::sqlite::Sqlite;
use platform_db::usage::admin::{self, RejectStatus};
use platform_db::usage::ledger::{self, RejectKind, Snapshot, Transaction, UsageRow};
use platform_db::usage::{settings, sweep};
use platform_db::{alerts, retention, Db, DbError, DbErrorKind, Metered};
use platform_kv::block_on;
use platform_kv::PlatformWorker::PlatformUsage;

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

fn totals(pairs: &[(Metric, f64)]) -> MetricTotals {
    pairs.iter().copied().collect()
}

/// One batch's usage of `feature` today, for the feature and its project.
fn usage(feature: &FeatureKey, amounts: &[(Metric, f64)]) -> Vec<UsageRow> {
    vec![
        (
            Subject::Feature(feature.clone()),
            PERIODS[0].into(),
            totals(amounts),
        ),
        (
            Subject::Feature(feature.clone()),
            PERIODS[1].into(),
            totals(amounts),
        ),
        (
            Subject::Project(feature.project()),
            PERIODS[0].into(),
            totals(amounts),
        ),
    ]
}

fn snapshot<S: platform_db::Sql>(db: &Db<S>, messages: &[String], features: &[FeatureKey]) -> Snapshot {
    block_on(ledger::snapshot(db, messages, features, PERIODS)).unwrap_or_else(|e| panic!("{e}"))
}

fn count(sqlite: &Sqlite, sql: &str) -> Result<u64, DbError> {
    let rows = sqlite.select(sql)?;
    Ok(rows.first().and_then(|r| r.get::<u64>("n").ok()).unwrap_or(0))
}

#[test]
fn a_redelivered_batch_fails_as_a_whole_and_is_not_counted_twice() -> Result<(), DbError> {
    let sqlite = Sqlite::migrated()?;
    let db = Db::new(sqlite.clone(), PlatformUsage);
    let api = feature("app:api:main");
    let batch = ids(&["m1", "m2", "m3"]);

    let before = snapshot(&db, &batch, std::slice::from_ref(&api));
    assert!(before.seen.is_empty());
    let mut tx = Transaction::new(NOON);
    tx.mark_seen(&batch);
    tx.add_usage(&usage(&api, &[(Metric::KvReads, 3.0)]));
    block_on(tx.commit(&db, "first delivery"))?;

    // The same messages again: the snapshot says they were counted...
    let again = snapshot(&db, &batch, std::slice::from_ref(&api));
    assert_eq!(again.seen, batch.iter().cloned().collect());
    // ...and a concurrent delivery that missed it fails whole: its usage is not added either.
    let mut tx = Transaction::new(NOON + 1);
    tx.mark_seen(&ids(&["m4", "m2"]));
    tx.add_usage(&usage(&api, &[(Metric::KvReads, 3.0)]));
    let refused = block_on(tx.commit(&db, "second delivery"));
    assert_eq!(refused.map_err(|e| e.kind), Err(DbErrorKind::Backend));
    let after = snapshot(&db, &ids(&["m4"]), std::slice::from_ref(&api));
    assert!(after.seen.is_empty(), "nothing of the failed transaction is kept");
    assert_eq!(
        after
            .totals
            .get(&(Subject::Feature(api.clone()), PERIODS[0].into())),
        Some(&totals(&[(Metric::KvReads, 3.0)]))
    );
    Ok(())
}

#[test]
fn usage_accumulates_across_transactions_per_subject_and_period() -> Result<(), DbError> {
    let sqlite = Sqlite::migrated()?;
    let db = Db::new(sqlite.clone(), PlatformUsage);
    let (api, web) = (feature("app:api:main"), feature("app:web:main"));
    for (i, (f, reads)) in [(&api, 3.0), (&api, 4.5), (&web, 1.0)].into_iter().enumerate() {
        let mut tx = Transaction::new(NOON + i as u64);
        tx.mark_seen(&[format!("m{i}")]);
        tx.add_usage(&usage(f, &[(Metric::KvReads, reads), (Metric::D1Writes, 1.0)]));
        block_on(tx.commit(&db, "a batch"))?;
    }
    let snapshot = snapshot(&db, &[], &[api.clone(), web.clone()]);
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
    assert_eq!(snapshot.totals.len(), 5, "{:?}", snapshot.totals.keys());
    assert!(snapshot.skipped.is_empty());
    Ok(())
}

#[test]
fn rows_that_do_not_parse_are_skipped_and_reported() -> Result<(), DbError> {
    let sqlite = Sqlite::migrated()?;
    let db = Db::new(sqlite.clone(), PlatformUsage);
    let api = feature("app:api:main");
    sqlite.execute(
        "INSERT INTO usage_totals VALUES ('feature', 'app:api:main', '2026-03-02', 'kv_reads', 2), \
         ('feature', 'app:api:main', '2026-03-02', 'no_such_metric', 5); \
         INSERT INTO feature_breakers (feature_key, open, manual, consecutive_trips) VALUES ('app:api:main', 7, 0, 0);",
    )?;
    let snapshot = snapshot(&db, &[], std::slice::from_ref(&api));
    assert_eq!(
        snapshot.totals.get(&(Subject::Feature(api), PERIODS[0].into())),
        Some(&totals(&[(Metric::KvReads, 2.0)]))
    );
    assert!(snapshot.feature_breakers.is_empty());
    assert_eq!(snapshot.skipped.len(), 2, "{:?}", snapshot.skipped);
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

    let snapshot = snapshot(&db, &[], std::slice::from_ref(&api));
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
    let warned = snapshot(&db, &[], std::slice::from_ref(&api)).warned;
    assert_eq!(warned.len(), 4);
    assert!(warned.contains(&(api, Metric::KvReads, PERIODS[1].into(), 70)));
    Ok(())
}

#[test]
fn the_snapshot_reads_usage_totals_by_its_primary_key() -> Result<(), DbError> {
    let sqlite = Sqlite::migrated()?;
    let features = [feature("app:api:main"), feature("app:web:main")];
    let [seen, totals, breakers, projects, warned] =
        ledger::snapshot_statements(&ids(&["m1", "m2"]), &features, PERIODS);
    let plan = sqlite.plan(&totals[0])?;
    assert!(
        plan.iter().all(|line| !line.contains("SCAN")),
        "usage_totals: {plan:?}"
    );
    assert!(plan.iter().any(|line| line.contains("PRIMARY KEY")), "{plan:?}");
    for statement in [&seen[0], &breakers[0], &projects[0], &warned[0]] {
        let plan = sqlite.plan(statement)?;
        assert!(
            plan.iter().all(|line| !line.contains("SCAN")),
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
    let mut old = Transaction::new(now - 15 * DAY - 1);
    old.mark_seen(&ids(&["old"]));
    let mut fresh = Transaction::new(now - 15 * DAY + 1);
    fresh.mark_seen(&ids(&["fresh"]));
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
    assert_eq!(deleted.get("telemetry_seen"), Some(&1));
    assert_eq!(deleted.get("alert_outbox"), Some(&1));
    let seen = sqlite.select("SELECT message_id FROM telemetry_seen")?;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].get::<String>("message_id").ok().as_deref(), Some("fresh"));
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
    tx.add_usage(&usage(&api, &[(Metric::KvReads, 5.0)]));
    tx.add_usage(&usage(&feature("app:web:main"), &[(Metric::KvReads, 1.0)]));
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
    tx.mark_seen(&[]);
    tx.add_usage(&[]);
    tx.also(None);
    assert!(tx.is_empty());
    block_on(tx.commit(&db, "nothing"))?;
    assert_eq!(db.backend().counts().round_trips, 0);
    Ok(())
}
