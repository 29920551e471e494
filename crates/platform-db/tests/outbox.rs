//! The shared alert outbox and handler stamps against SQLite with the real migrations.

use platform_db::sqlite::Sqlite;
use platform_db::{alerts, handlers, Db, DbError};
use platform_kv::block_on;
use platform_kv::PlatformWorker::{ErrorCollector, PlatformUsage};

const MINUTE: u64 = 60_000;

#[test]
fn a_claimed_alert_is_not_claimed_again_until_its_claim_expires() -> Result<(), DbError> {
    let sqlite = Sqlite::migrated()?;
    let usage = Db::new(sqlite.clone(), PlatformUsage);
    let collector = Db::new(sqlite.clone(), ErrorCollector);
    block_on(usage.batch(
        "storing",
        vec![
            alerts::enqueue("trip", "a", "first", 1_000),
            alerts::enqueue("trip", "b", "second", 1_001),
        ],
    ))?;

    let first = block_on(alerts::claim(&usage, 25, 10 * MINUTE))?;
    assert_eq!(
        first.iter().map(|p| p.text.as_str()).collect::<Vec<_>>(),
        ["first", "second"]
    );
    // A second sweep running at the same time finds nothing to deliver.
    assert!(block_on(alerts::claim(&collector, 25, 10 * MINUTE + 1))?.is_empty());
    // The first sweep died: after the claim timeout another takes the alerts over.
    let taken_over = block_on(alerts::claim(&collector, 25, 10 * MINUTE + alerts::CLAIM_MS))?;
    assert_eq!(taken_over.len(), 2);
    Ok(())
}

#[test]
fn one_alert_raised_many_times_during_an_outage_is_posted_once_by_concurrent_sweeps() -> Result<(), DbError> {
    let sqlite = Sqlite::migrated()?;
    let sweeps: Vec<Db<Sqlite>> = [PlatformUsage, ErrorCollector, PlatformUsage]
        .into_iter()
        .map(|worker| Db::new(sqlite.clone(), worker))
        .collect();
    // The same alert stored four times while Slack was down, and another one.
    let mut stored: Vec<_> = (0..4)
        .map(|n| alerts::enqueue("trip", "app:api:x:1", "tripped", n))
        .collect();
    stored.push(alerts::enqueue("trip", "other", "other", 9));
    block_on(sweeps[0].batch("storing", stored))?;

    // Three sweeps at once: one row of the subject is claimed, by one of them.
    let now = 10 * MINUTE;
    let claims: Vec<_> = sweeps
        .iter()
        .map(|db| block_on(alerts::claim(db, 25, now)))
        .collect::<Result<_, _>>()?;
    let subjects: Vec<&str> = claims.iter().flatten().map(|p| p.subject.as_str()).collect();
    assert_eq!(subjects, ["app:api:x:1", "other"]);
    let posted = claims[0][0].clone();
    assert!(!posted.duplicate);
    block_on(sweeps[0].run("recording", alerts::sent(posted.id, None, now + 1)))?;

    // The rows left are claimed one at a time, each as a duplicate of the one posted.
    for n in 0..3 {
        let again = block_on(alerts::claim(&sweeps[n % 3], 25, now + 2 + n as u64))?;
        assert_eq!(again.len(), 1, "{again:?}");
        assert!(again[0].duplicate, "{again:?}");
        let note = Some("suppressed: the same alert was sent within the hour");
        block_on(sweeps[0].run("recording", alerts::sent(again[0].id, note, now + 2)))?;
    }
    assert!(block_on(alerts::claim(&sweeps[1], 25, now + 5))?.is_empty());
    // A claim holds for longer than any delivery run: not taken over ten seconds or five minutes later.
    assert!(block_on(alerts::claim(&sweeps[1], 25, now + 5 * MINUTE))?.is_empty());
    Ok(())
}

#[test]
fn a_permanent_refusal_of_the_webhook_is_found_while_alerts_wait() -> Result<(), DbError> {
    let sqlite = Sqlite::migrated()?;
    let db = Db::new(sqlite, PlatformUsage);
    block_on(db.run("storing", alerts::enqueue("trip", "a", "first", 1)))?;
    assert_eq!(block_on(alerts::webhook_refused(&db))?, None);
    let claimed = block_on(alerts::claim(&db, 25, MINUTE))?;
    let refusal = format!("{} (Slack answered 404 no_service)", alerts::PERMANENT_REFUSAL);
    block_on(db.run("recording", alerts::failed(claimed[0].id, &refusal)))?;
    assert_eq!(block_on(alerts::webhook_refused(&db))?, Some(refusal));
    let claimed = block_on(alerts::claim(&db, 25, 2 * MINUTE))?;
    block_on(db.run("recording", alerts::sent(claimed[0].id, None, 2 * MINUTE)))?;
    assert_eq!(block_on(alerts::webhook_refused(&db))?, None, "delivered since");
    Ok(())
}

#[test]
fn a_sent_alert_stays_sent_and_a_failed_one_is_retried() -> Result<(), DbError> {
    let sqlite = Sqlite::migrated()?;
    let db = Db::new(sqlite.clone(), PlatformUsage);
    block_on(db.batch(
        "storing",
        vec![
            alerts::enqueue("trip", "a", "sent", 1),
            alerts::enqueue("trip", "b", "fails", 2),
        ],
    ))?;
    let claimed = block_on(alerts::claim(&db, 25, MINUTE))?;
    let (sent, failing) = (claimed[0].id, claimed[1].id);
    block_on(db.batch(
        "recording",
        vec![
            alerts::sent(sent, None, MINUTE),
            alerts::failed(failing, "Slack answered 500"),
        ],
    ))?;
    // The failed one is released at once; the sent one never comes back.
    let again = block_on(alerts::claim(&db, 25, MINUTE + 1))?;
    assert_eq!(again.iter().map(|p| p.id).collect::<Vec<_>>(), [failing]);
    let rows = sqlite.select("SELECT attempts, last_error FROM alert_outbox ORDER BY id")?;
    assert_eq!(rows[1].get::<u64>("attempts").ok(), Some(1));
    assert_eq!(
        rows[1].get::<String>("last_error").ok().as_deref(),
        Some("Slack answered 500")
    );
    Ok(())
}

#[test]
fn a_lasting_condition_is_raised_once_per_quiet_period() -> Result<(), DbError> {
    let db = Db::new(Sqlite::migrated()?, ErrorCollector);
    let hour = 60 * MINUTE;
    assert!(block_on(alerts::raise(
        &db, "github", "token", "refused", hour, hour
    ))?);
    assert!(!block_on(alerts::raise(
        &db,
        "github",
        "token",
        "refused",
        hour,
        hour + MINUTE
    ))?);
    assert!(block_on(alerts::raise(
        &db,
        "github",
        "other",
        "refused",
        hour,
        hour + MINUTE
    ))?);
    assert!(block_on(alerts::raise(
        &db,
        "github",
        "token",
        "refused",
        hour,
        2 * hour + 1
    ))?);
    Ok(())
}

#[test]
fn handler_stamps_count_failures_until_a_success() -> Result<(), DbError> {
    let db = Db::new(Sqlite::migrated()?, ErrorCollector);
    for (error, at) in [(Some("GitHub 502"), 1), (Some("GitHub 502"), 2)] {
        block_on(db.run("stamping", handlers::stamp(ErrorCollector, "retry", error, at)))?;
    }
    let runs = block_on(handlers::runs(&db, ErrorCollector))?;
    let retry = &runs["retry"];
    assert_eq!(
        (retry.consecutive_failures, retry.last_ok_at, retry.last_error_at),
        (2, None, Some(2))
    );

    block_on(db.run("stamping", handlers::stamp(ErrorCollector, "retry", None, 3)))?;
    let runs = block_on(handlers::runs(&db, ErrorCollector))?;
    let retry = &runs["retry"];
    assert_eq!(
        (retry.consecutive_failures, retry.last_ok_at, retry.last_run_at),
        (0, Some(3), 3)
    );
    // The last failure stays visible after a success.
    assert_eq!(retry.last_error.as_deref(), Some("GitHub 502"));
    // Another worker's handlers are its own.
    assert!(block_on(handlers::runs(&db, PlatformUsage))?.is_empty());
    Ok(())
}

#[test]
fn retention_deletes_old_rows_of_the_owners_tables_only() -> Result<(), DbError> {
    let sqlite = Sqlite::migrated()?;
    let day = 86_400_000;
    let now = 100 * day;
    let usage = Db::new(sqlite.clone(), PlatformUsage);
    block_on(usage.batch(
        "storing",
        vec![
            alerts::enqueue("trip", "old", "old, sent", day),
            alerts::enqueue("trip", "new", "recent, sent", now - day),
            alerts::enqueue("trip", "pending", "old, never sent", day),
        ],
    ))?;
    let claimed = block_on(alerts::claim(&usage, 25, day))?;
    block_on(usage.batch(
        "recording",
        vec![
            alerts::sent(claimed[0].id, None, day),
            alerts::sent(claimed[1].id, None, now - day),
        ],
    ))?;
    sqlite.execute(&format!(
        "INSERT INTO telemetry_receipts VALUES ({}, 0, '[\"old\"]'), ({}, 0, '[\"new\"]')",
        now - 16 * day,
        now - 14 * day
    ))?;

    // The collector's sweep touches its own tables only: webhook deliveries and tail scripts.
    let collector = Db::new(sqlite.clone(), ErrorCollector);
    let swept = block_on(platform_db::retention::sweep(&collector, now))?;
    assert_eq!(
        swept.iter().map(|s| (s.table, s.deleted)).collect::<Vec<_>>(),
        [("github_webhook_deliveries", 0), ("tail_scripts", 0)]
    );

    let swept = block_on(platform_db::retention::sweep(&usage, now))?;
    let deleted = |table: &str| swept.iter().find(|s| s.table == table).map(|s| s.deleted);
    assert_eq!(
        (deleted("telemetry_receipts"), deleted("alert_outbox")),
        (Some(1), Some(1))
    );
    let left = sqlite.select("SELECT subject FROM alert_outbox ORDER BY id")?;
    let subjects: Vec<String> = left.iter().filter_map(|r| r.get("subject").ok()).collect();
    assert_eq!(subjects, ["new", "pending"]);
    Ok(())
}

#[test]
fn a_webhook_delivery_is_claimed_once_until_released() -> Result<(), DbError> {
    use platform_db::errors::deliveries;
    let sqlite = Sqlite::migrated()?;
    let collector = Db::new(sqlite.clone(), ErrorCollector);
    assert!(block_on(deliveries::claim(&collector, "d-1", 5))?);
    assert!(!block_on(deliveries::claim(&collector, "d-1", 6))?);
    assert!(block_on(deliveries::claim(&collector, "d-2", 6))?);
    block_on(deliveries::release(&collector, "d-1"))?;
    assert!(block_on(deliveries::claim(&collector, "d-1", 7))?);
    let week = 7 * 86_400_000;
    let swept = block_on(platform_db::retention::sweep(&collector, week + 7))?;
    assert_eq!(
        swept[0].deleted, 1,
        "d-2 (at 6) is older than a week at week + 7, d-1 (at 7) is not"
    );
    Ok(())
}

#[test]
fn a_tail_script_keeps_its_latest_event_and_leaves_after_90_quiet_days() -> Result<(), DbError> {
    use platform_db::errors::tail_scripts::{self, TailScript};
    let sqlite = Sqlite::migrated()?;
    let collector = Db::new(sqlite.clone(), ErrorCollector);
    let day = 86_400_000;
    block_on(collector.batch(
        "recording tail events",
        vec![
            tail_scripts::seen("shop-api", 10 * day),
            tail_scripts::seen("blog", day),
            // A batch that arrives late says nothing newer.
            tail_scripts::seen("shop-api", 5 * day),
        ],
    ))?;
    let listed = block_on(tail_scripts::list(&collector))?;
    let expected = [("shop-api", 10 * day), ("blog", day)].map(|(script, last_event_at)| TailScript {
        script: script.into(),
        last_event_at,
    });
    assert_eq!(listed, expected);
    block_on(platform_db::retention::sweep(&collector, 95 * day))?;
    let left: Vec<String> = block_on(tail_scripts::list(&collector))?
        .into_iter()
        .map(|s| s.script)
        .collect();
    assert_eq!(left, ["shop-api"], "quiet for 94 days: gone; for 85: kept");
    Ok(())
}
