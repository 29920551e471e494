//! The error collector's ledger against SQLite with the real migrations: counts added per batch,
//! the atomic claims of GitHub work and their release, the daily issues, the caps' counts, the
//! state transitions of the webhook and the admin routes, and the ownership check.

use std::collections::BTreeMap;

use platform_core::UtcDay;
use platform_db::errors::{
    self, daily, fingerprints, listing, state, DailyIssue, DailyKind, FactKey, Filter, Listed, Status,
};
use platform_db::sqlite::Sqlite;
use platform_db::{Db, DbError, DbErrorKind, Metered};
use platform_errors::lifecycle::{decide, Action, CLAIM_MS};
use platform_errors::webhook::IssueChange;
use platform_errors::{Aggregate, ErrorKind, Occurrence, Priority, ScriptInfo};
use platform_kv::{block_on, PlatformWorker};

const COLLECTOR: PlatformWorker = PlatformWorker::ErrorCollector;
/// 2026-03-03T10:00:00Z.
const T0: u64 = 1_772_532_000_000;
const FP: &str = "0123456789abcdef0123456789abcdef";
const OTHER: &str = "fedcba9876543210fedcba9876543210";

fn database() -> Result<(Sqlite, Db<Sqlite>), DbError> {
    let sqlite = Sqlite::migrated()?;
    let db = Db::new(sqlite.clone(), COLLECTOR);
    Ok((sqlite, db))
}

fn occurrence(fingerprint: &str, script: &str, kind: ErrorKind, at: u64, context: &str) -> Occurrence {
    Occurrence {
        fingerprint: fingerprint.to_owned(),
        script: script.to_owned(),
        kind,
        exception: Some("TypeError".to_owned()),
        category: None,
        message: "cannot read properties of undefined".to_owned(),
        title: "TypeError: cannot read properties of undefined".to_owned(),
        sample: "cannot read properties of undefined (reading 'id')".to_owned(),
        context: context.to_owned(),
        logs: vec![format!("log at {at}")],
        at,
    }
}

fn group(
    fingerprint: &str,
    script: &str,
    kind: ErrorKind,
    count: u64,
    first_at: u64,
    last_at: u64,
) -> Aggregate {
    Aggregate {
        count,
        first_at,
        last: occurrence(
            fingerprint,
            script,
            kind,
            last_at,
            &format!("GET /items at {last_at}"),
        ),
    }
}

fn mapped(script: &str) -> BTreeMap<String, ScriptInfo> {
    BTreeMap::from([(
        script.to_owned(),
        ScriptInfo {
            project: "shop".to_owned(),
            repository: Some("acme/shop".to_owned()),
            tier: Some(1),
        },
    )])
}

/// Records one batch of `groups` (all of script `api`).
fn record(db: &Db<Sqlite>, groups: Vec<Aggregate>) -> Result<Vec<errors::Fingerprint>, DbError> {
    let groups: BTreeMap<String, Aggregate> = groups
        .into_iter()
        .map(|g| (g.last.fingerprint.clone(), g))
        .collect();
    block_on(fingerprints::record(db, &groups, &mapped("api"), None))
}

fn row(db: &Db<Sqlite>, fingerprint: &str) -> Result<errors::Fingerprint, DbError> {
    block_on(fingerprints::get(db, fingerprint))?
        .ok_or_else(|| DbError::backend("test", format!("no row for {fingerprint}")))
}

fn count(sqlite: &Sqlite, sql: &str) -> Result<u64, DbError> {
    let rows = sqlite.select(sql)?;
    let first = rows.first().ok_or_else(|| DbError::backend("test", "no row"))?;
    first.get::<u64>("n").map_err(|e| DbError::decode("test", e))
}

#[test]
fn counts_of_one_fingerprint_add_up_over_two_batches() -> Result<(), DbError> {
    let (_, db) = database()?;
    let first = record(&db, vec![group(FP, "api", ErrorKind::Exception, 3, T0, T0 + 500)])?;
    assert_eq!(first.len(), 1);
    assert_eq!(
        (first[0].occurrences, first[0].first_seen, first[0].last_seen),
        (3, T0, T0 + 500)
    );
    assert_eq!(
        first[0].priority,
        Priority::P1,
        "an exception of a tier-1 project"
    );
    assert_eq!(
        (first[0].status, first[0].muted, first[0].issue_number),
        (Status::Open, false, None)
    );

    // The second batch saw it later, and once out of order before the first batch's first.
    let second = record(
        &db,
        vec![group(
            FP,
            "api",
            ErrorKind::Exception,
            4,
            T0 + 60_000,
            T0 + 90_000,
        )],
    )?;
    assert_eq!(second.len(), 1, "the batch returns the row as it is after");
    let after = &second[0];
    assert_eq!(after.occurrences, 7, "occurrences sum");
    assert_eq!(after.first_seen, T0, "first_seen kept");
    assert_eq!(after.last_seen, T0 + 90_000, "last_seen advanced");
    assert_eq!(after.last_context, format!("GET /items at {}", T0 + 90_000));
    assert_eq!(after.last_logs, vec![format!("log at {}", T0 + 90_000)]);
    assert_eq!(row(&db, FP)?, *after);

    // An older batch arriving late never moves last_seen back.
    let late = record(
        &db,
        vec![group(FP, "api", ErrorKind::Exception, 1, T0 - 1_000, T0 - 1_000)],
    )?;
    assert_eq!(
        (late[0].occurrences, late[0].first_seen, late[0].last_seen),
        (8, T0 - 1_000, T0 + 90_000)
    );
    Ok(())
}

#[test]
fn a_soft_error_seen_often_in_all_escalates_to_p2() -> Result<(), DbError> {
    let (_, db) = database()?;
    let first = record(&db, vec![group(FP, "api", ErrorKind::SoftError, 3, T0, T0)])?;
    assert_eq!(first[0].priority, Priority::P3);
    let second = record(
        &db,
        vec![group(FP, "api", ErrorKind::SoftError, 3, T0 + 1, T0 + 1)],
    )?;
    assert_eq!((second[0].occurrences, second[0].priority), (6, Priority::P2));
    Ok(())
}

#[test]
fn of_two_invocations_claiming_one_creation_exactly_one_wins() -> Result<(), DbError> {
    let (sqlite, first) = database()?;
    let second = Db::new(sqlite.clone(), COLLECTOR);
    record(&first, vec![group(FP, "api", ErrorKind::Exception, 1, T0, T0)])?;
    let a = block_on(fingerprints::claim_creation(&first, FP, T0))?;
    let b = block_on(fingerprints::claim_creation(&second, FP, T0 + 10))?;
    assert_eq!((a, b), (true, false), "exactly one claim wins");
    let seen = row(&second, FP)?;
    assert_eq!(seen.claimed_at, Some(T0), "the other sees it claimed");
    assert_eq!(
        decide(&seen.state(), T0 + 10),
        Action::Nothing,
        "and leaves it alone"
    );

    // Once the winner recorded the issue, nobody claims it again, however late.
    block_on(fingerprints::created(&first, FP, "acme/shop", 42, T0 + 20))?;
    assert!(!block_on(fingerprints::claim_creation(
        &second,
        FP,
        T0 + 10 * CLAIM_MS
    ))?);
    let created = row(&second, FP)?;
    assert_eq!(created.issue_number, Some(42));
    assert_eq!(created.claimed_at, None);
    assert_eq!(created.issue_priority, Some(Priority::P1));
    assert_eq!(
        (created.notified_count, created.issue_created_at),
        (1, Some(T0 + 20))
    );
    let facts = block_on(state::read(&first))?;
    assert_eq!(
        facts.last_issue_write.map(|f| (f.value, f.at)),
        Some(("acme/shop#42".to_owned(), T0 + 20)),
        "the issue write is recorded in the same round trip"
    );
    Ok(())
}

#[test]
fn a_stale_claim_is_taken_over_after_its_timeout() -> Result<(), DbError> {
    let (sqlite, crashed) = database()?;
    let later = Db::new(sqlite, COLLECTOR);
    record(&crashed, vec![group(FP, "api", ErrorKind::Exception, 1, T0, T0)])?;
    assert!(block_on(fingerprints::claim_creation(&crashed, FP, T0))?);
    assert!(
        !block_on(fingerprints::claim_creation(&later, FP, T0 + CLAIM_MS - 1))?,
        "a claim younger than its timeout holds"
    );
    assert!(
        block_on(fingerprints::claim_creation(&later, FP, T0 + CLAIM_MS))?,
        "a claim as old as its timeout is taken over"
    );
    assert_eq!(row(&later, FP)?.claimed_at, Some(T0 + CLAIM_MS));
    Ok(())
}

#[test]
fn a_claim_released_after_github_refused_lets_the_next_attempt_claim() -> Result<(), DbError> {
    let (sqlite, db) = database()?;
    let next = Db::new(sqlite, COLLECTOR);
    record(&db, vec![group(FP, "api", ErrorKind::Exception, 1, T0, T0)])?;
    assert!(block_on(fingerprints::claim_creation(&db, FP, T0))?);
    block_on(fingerprints::retry_later(
        &db,
        FP,
        1,
        T0 + 60_000,
        "GitHub 502: bad gateway",
    ))?;
    let failed = row(&db, FP)?;
    assert_eq!(failed.claimed_at, None);
    assert_eq!((failed.attempts, failed.next_attempt_at), (1, Some(T0 + 60_000)));
    assert_eq!(failed.last_error.as_deref(), Some("GitHub 502: bad gateway"));

    // Not due before its time; due after, and claimable at once.
    assert!(block_on(fingerprints::due_creations(&next, T0 + 59_999, 25))?.is_empty());
    let due = block_on(fingerprints::due_creations(&next, T0 + 60_000, 25))?;
    assert_eq!(
        due.iter().map(|r| r.fingerprint.as_str()).collect::<Vec<_>>(),
        [FP]
    );
    assert!(block_on(fingerprints::claim_creation(&next, FP, T0 + 1_000))?);
    Ok(())
}

#[test]
fn due_creations_skip_muted_resolved_warnings_and_unfiled() -> Result<(), DbError> {
    let (sqlite, db) = database()?;
    let fps: Vec<String> = (0..4).map(|i| format!("{i:032x}")).collect();
    record(
        &db,
        vec![
            group(&fps[0], "api", ErrorKind::Exception, 1, T0, T0),
            group(&fps[1], "api", ErrorKind::Exception, 1, T0, T0),
            group(&fps[2], "api", ErrorKind::Exception, 1, T0, T0),
            group(&fps[3], "api", ErrorKind::Warning, 1, T0, T0),
        ],
    )?;
    for fp in &fps {
        block_on(fingerprints::retry_later(&db, fp, 1, T0, "later"))?;
    }
    block_on(fingerprints::set_muted(&db, &fps[1], true))?;
    block_on(fingerprints::set_status(&db, &fps[2], Status::Resolved))?;
    let due = block_on(fingerprints::due_creations(&db, T0, 25))?;
    assert_eq!(
        due.iter().map(|r| r.fingerprint.clone()).collect::<Vec<_>>(),
        vec![fps[0].clone()]
    );
    sqlite.execute(&format!(
        "UPDATE error_fingerprints SET repository = NULL WHERE fingerprint = '{}'",
        fps[0]
    ))?;
    assert!(block_on(fingerprints::due_creations(&db, T0, 25))?.is_empty());
    Ok(())
}

#[test]
fn an_update_is_claimed_once_for_the_count_both_invocations_saw() -> Result<(), DbError> {
    let (sqlite, db) = database()?;
    let other = Db::new(sqlite, COLLECTOR);
    record(&db, vec![group(FP, "api", ErrorKind::Exception, 1, T0, T0)])?;
    block_on(fingerprints::created(&db, FP, "acme/shop", 7, T0))?;
    let seen = record(&db, vec![group(FP, "api", ErrorKind::Exception, 99, T0, T0 + 1)])?;
    assert!(block_on(fingerprints::claim_update(&db, &seen[0], T0 + 2))?);
    assert!(!block_on(fingerprints::claim_update(&other, &seen[0], T0 + 3))?);
    assert_eq!(row(&db, FP)?.notified_count, 100);
    Ok(())
}

#[test]
fn the_daily_issue_claim_admits_one_per_project_per_day_and_is_released_on_failure() -> Result<(), DbError> {
    let (sqlite, first) = database()?;
    let second = Db::new(sqlite.clone(), COLLECTOR);
    let day = UtcDay::containing(T0);
    let digest = DailyIssue {
        kind: DailyKind::Digest,
        project: "shop",
        day,
    };
    assert!(block_on(digest.claim(&first, T0))?);
    assert!(
        !block_on(digest.claim(&second, T0 + 1))?,
        "one per project per day"
    );
    let other_project = DailyIssue {
        project: "blog",
        ..digest
    };
    let gap = DailyIssue {
        kind: DailyKind::Gap,
        ..digest
    };
    let next_day = DailyIssue {
        day: UtcDay::containing(day.next_start_ms()),
        ..digest
    };
    for other in [other_project, gap, next_day] {
        assert!(
            block_on(other.claim(&second, T0 + 1))?,
            "{other:?} is its own claim"
        );
    }

    // GitHub refused: the claim is given back, and the next run claims at once.
    block_on(digest.release(&first))?;
    assert!(block_on(digest.claim(&second, T0 + 2))?);
    // A crashed caller's claim is taken over after its timeout, not before.
    assert!(!block_on(digest.claim(&first, T0 + 2 + daily::CLAIM_MS - 1))?);
    assert!(block_on(digest.claim(&first, T0 + 2 + daily::CLAIM_MS))?);

    // Once the issue is recorded, the day is done: no takeover, no release.
    block_on(digest.record(&first, "acme/shop", 9, T0 + 3))?;
    block_on(digest.release(&second))?;
    assert!(!block_on(digest.claim(&second, T0 + 10 * daily::CLAIM_MS))?);
    assert_eq!(
        count(
            &sqlite,
            "SELECT count(*) AS n FROM error_daily_issues WHERE issue_number = 9"
        )?,
        1
    );
    let facts = block_on(state::read(&first))?;
    assert_eq!(
        facts.last_issue_write.map(|f| f.value).as_deref(),
        Some("acme/shop#9")
    );
    Ok(())
}

#[test]
fn the_caps_count_issues_created_since_the_day_began_over_the_account_and_per_script() -> Result<(), DbError>
{
    let (_, db) = database()?;
    let day = UtcDay::containing(T0).start_ms();
    let fps: Vec<String> = (0..5).map(|i| format!("{i:032x}")).collect();
    let scripts = ["api", "api", "worker", "worker", "api"];
    let groups: BTreeMap<String, Aggregate> = fps
        .iter()
        .zip(scripts)
        .map(|(fp, script)| (fp.clone(), group(fp, script, ErrorKind::Exception, 1, T0, T0)))
        .collect();
    let mut infos = mapped("api");
    infos.extend(mapped("worker"));
    block_on(fingerprints::record(&db, &groups, &infos, None))?;
    // Yesterday's issue (api), today's two of api and one of worker; one never filed.
    block_on(fingerprints::created(&db, &fps[0], "acme/shop", 1, day - 1))?;
    block_on(fingerprints::created(&db, &fps[1], "acme/shop", 2, day))?;
    block_on(fingerprints::created(&db, &fps[4], "acme/shop", 3, T0))?;
    block_on(fingerprints::created(&db, &fps[2], "acme/shop", 4, T0))?;

    let api = block_on(fingerprints::created_since(&db, day, Some("api")))?;
    assert_eq!((api.account, api.script), (3, 2));
    let worker = block_on(fingerprints::created_since(&db, day, Some("worker")))?;
    assert_eq!((worker.account, worker.script), (3, 1));
    let unknown = block_on(fingerprints::created_since(&db, day, Some("nobody")))?;
    assert_eq!((unknown.account, unknown.script), (3, 0));
    let account = block_on(fingerprints::created_since(&db, day, None))?;
    assert_eq!(
        (account.account, account.script),
        (3, 0),
        "no script named: the account's count only"
    );
    let tomorrow = block_on(fingerprints::created_since(
        &db,
        UtcDay::containing(T0).next_start_ms(),
        None,
    ))?;
    assert_eq!(tomorrow.account, 0);
    Ok(())
}

#[test]
fn the_caps_count_reads_an_index() -> Result<(), DbError> {
    let (sqlite, _) = database()?;
    let plan = sqlite.plan(&fingerprints::count_created(T0, Some("api")))?;
    assert!(
        plan.iter()
            .any(|step| step.contains("USING") && step.contains("INDEX")),
        "the count scans the table: {plan:?}"
    );
    Ok(())
}

#[test]
fn mute_resolve_and_reopen_move_as_the_webhook_and_the_admin_routes_apply_them() -> Result<(), DbError> {
    let (_, db) = database()?;
    record(&db, vec![group(FP, "api", ErrorKind::Exception, 1, T0, T0)])?;
    record(&db, vec![group(OTHER, "api", ErrorKind::Exception, 1, T0, T0)])?;
    block_on(fingerprints::created(&db, FP, "acme/shop", 5, T0))?;
    block_on(fingerprints::created(&db, OTHER, "acme/shop", 6, T0))?;

    // The operator mutes and unmutes, then resolves.
    block_on(fingerprints::set_muted(&db, FP, true))?;
    let muted = row(&db, FP)?;
    assert!(muted.muted);
    let listed = |status| {
        let filter = Filter {
            project: None,
            script: Some("api"),
            status: Some(status),
            priority: None,
            limit: 100,
        };
        block_on(listing::list(&db, &filter))
            .map(|rows| rows.into_iter().map(|r| r.fingerprint).collect::<Vec<_>>())
    };
    assert_eq!(listed(Listed::Muted)?, [FP]);
    assert_eq!(listed(Listed::Open)?, [OTHER]);
    block_on(fingerprints::set_muted(&db, FP, false))?;
    block_on(fingerprints::set_status(&db, FP, Status::Resolved))?;
    assert_eq!(listed(Listed::Resolved)?, [FP]);
    assert!(listed(Listed::Muted)?.is_empty());

    // A recurrence of the resolved error reopens it, claimed by one invocation only.
    let recurred = record(
        &db,
        vec![group(FP, "api", ErrorKind::Exception, 1, T0 + 5, T0 + 5)],
    )?;
    assert_eq!(decide(&recurred[0].state(), T0 + 5), Action::Reopen);
    assert!(block_on(fingerprints::claim_reopen(&db, FP, T0 + 6))?);
    assert!(!block_on(fingerprints::claim_reopen(&db, FP, T0 + 7))?);
    let reopened = row(&db, FP)?;
    assert_eq!((reopened.status, reopened.notified_count), (Status::Open, 2));
    // GitHub refused the reopening: it is put back, so a later occurrence tries again.
    block_on(fingerprints::set_status(&db, FP, Status::Resolved))?;
    assert!(block_on(fingerprints::claim_reopen(&db, FP, T0 + 8))?);

    // A person closes OTHER's issue on GitHub, labels it cf:muted, then reopens it.
    let change = |resolved, muted| IssueChange {
        repository: "acme/shop".to_owned(),
        number: 6,
        resolved,
        muted,
    };
    let closed = block_on(fingerprints::apply_issue_change(&db, &change(Some(true), None)))?;
    let closed = closed.ok_or_else(|| DbError::backend("test", "the event applied to nothing"))?;
    assert_eq!(
        (closed.fingerprint.as_str(), closed.status, closed.muted),
        (OTHER, Status::Resolved, false)
    );
    let labelled = block_on(fingerprints::apply_issue_change(&db, &change(None, Some(true))))?;
    assert_eq!(
        labelled.map(|c| (c.status, c.muted)),
        Some((Status::Resolved, true)),
        "labelling keeps the status"
    );
    let back = block_on(fingerprints::apply_issue_change(&db, &change(Some(false), None)))?;
    assert_eq!(
        back.map(|c| (c.status, c.muted)),
        Some((Status::Open, true)),
        "reopening never unmutes"
    );
    let silenced = row(&db, OTHER)?;
    assert_eq!(decide(&silenced.state(), T0 + 10), Action::Nothing);

    // An issue the collector did not file changes nothing.
    let unknown = IssueChange {
        number: 999,
        ..change(Some(true), None)
    };
    assert_eq!(block_on(fingerprints::apply_issue_change(&db, &unknown))?, None);
    let elsewhere = IssueChange {
        repository: "acme/blog".to_owned(),
        ..change(Some(true), None)
    };
    assert_eq!(block_on(fingerprints::apply_issue_change(&db, &elsewhere))?, None);
    assert_eq!(row(&db, OTHER)?.status, Status::Open);
    Ok(())
}

#[test]
fn the_admin_row_shows_what_d1_holds() -> Result<(), DbError> {
    let (_, db) = database()?;
    record(&db, vec![group(FP, "api", ErrorKind::Exception, 2, T0, T0)])?;
    block_on(fingerprints::set_muted(&db, FP, true))?;
    let shown = serde_json::to_value(row(&db, FP)?).map_err(|e| DbError::decode("test", e))?;
    assert_eq!(shown["muted"], 1);
    assert_eq!(shown["status"], "open");
    assert_eq!(shown["kind"], "exception");
    assert_eq!(shown["priority"], "P1");
    assert_eq!(shown["issue_priority"], serde_json::Value::Null);
    assert_eq!(shown["occurrences"], 2);
    assert_eq!(shown["last_logs"], format!("[\"log at {T0}\"]"));
    Ok(())
}

#[test]
fn digest_warnings_and_health_facts() -> Result<(), DbError> {
    let (_, db) = database()?;
    let day = UtcDay::containing(T0);
    let groups: BTreeMap<String, Aggregate> = [
        group(FP, "api", ErrorKind::Warning, 4, T0, T0),
        group(OTHER, "api", ErrorKind::Exception, 4, T0, T0),
    ]
    .into_iter()
    .map(|g| (g.last.fingerprint.clone(), g))
    .collect();
    let mut infos = mapped("api");
    infos.insert("stray".to_owned(), ScriptInfo::unmapped(None));
    block_on(fingerprints::record(&db, &groups, &infos, None))?;
    let stray = group(&format!("{:032x}", 9), "stray", ErrorKind::Exception, 1, T0, T0);
    block_on(fingerprints::record(
        &db,
        &BTreeMap::from([(stray.last.fingerprint.clone(), stray)]),
        &BTreeMap::new(),
        None,
    ))?;

    let warnings = block_on(listing::warnings(&db, day, 2000))?;
    assert_eq!(warnings.len(), 1);
    assert_eq!(
        (warnings[0].fingerprint.as_str(), warnings[0].occurrences),
        (FP, 4)
    );
    let next = UtcDay::containing(day.next_start_ms());
    assert!(block_on(listing::warnings(&db, next, 2000))?.is_empty());

    assert_eq!(
        block_on(listing::project_repository(&db, "shop"))?.as_deref(),
        Some("acme/shop")
    );
    assert_eq!(block_on(listing::project_repository(&db, "blog"))?, None);
    assert_eq!(block_on(listing::unmapped_scripts(&db, 100))?, ["stray"]);

    assert_eq!(block_on(state::read(&db))?, errors::CollectorState::default());
    block_on(state::set(
        &db,
        FactKey::LastGithubError,
        "GitHub 401: bad credentials",
        T0,
    ))?;
    block_on(state::set(
        &db,
        FactKey::LastGithubError,
        "GitHub 502: bad gateway",
        T0 + 1,
    ))?;
    let facts = block_on(state::read(&db))?;
    assert_eq!(facts.last_issue_write, None);
    assert_eq!(
        facts.last_github_error.map(|f| (f.value, f.at)),
        Some(("GitHub 502: bad gateway".to_owned(), T0 + 1))
    );
    Ok(())
}

#[test]
fn a_write_to_a_platform_usage_table_is_refused_and_nothing_of_its_batch_is_written() -> Result<(), DbError> {
    let (sqlite, db) = database()?;
    let groups = BTreeMap::from([(FP.to_owned(), group(FP, "api", ErrorKind::Exception, 1, T0, T0))]);
    // platform-usage's retention sweep: a write to telemetry_receipts, which only platform-usage owns.
    let foreign = platform_db::retention::statements(PlatformWorker::PlatformUsage, T0)
        .into_iter()
        .map(|(_, statement)| statement)
        .find(|s| s.writes().is_some_and(|t| t.name == "telemetry_receipts"))
        .ok_or_else(|| DbError::backend("test", "no statement writes telemetry_receipts"))?;
    let refused = block_on(fingerprints::record(&db, &groups, &mapped("api"), Some(foreign)))
        .err()
        .ok_or_else(|| DbError::backend("test", "the write was not refused"))?;
    assert_eq!(refused.kind, DbErrorKind::Refused, "{refused}");
    assert_eq!(count(&sqlite, "SELECT count(*) AS n FROM error_fingerprints")?, 0);
    Ok(())
}

#[test]
fn a_batch_and_its_stamp_are_one_round_trip_and_so_is_a_created_issue_with_its_fact() -> Result<(), DbError> {
    let sqlite = Sqlite::migrated()?;
    let db = Db::new(Metered::new(sqlite.clone()), COLLECTOR);
    let groups: BTreeMap<String, Aggregate> = [FP, OTHER]
        .into_iter()
        .map(|fp| (fp.to_owned(), group(fp, "api", ErrorKind::Exception, 2, T0, T0)))
        .collect();
    let stamp = platform_db::handlers::stamp(COLLECTOR, "tail", None, T0);
    let rows = block_on(fingerprints::record(&db, &groups, &mapped("api"), Some(stamp)))?;
    assert_eq!(rows.len(), 2, "the stamp's outcome is not read as a row");
    let counts = db.backend().counts();
    assert_eq!((counts.round_trips, counts.statements), (1, 3));
    let stamped = sqlite.select("SELECT handler FROM handler_runs")?;
    assert_eq!(stamped.len(), 1, "the stamp rode in the counts' batch");

    block_on(fingerprints::created(&db, FP, "acme/shop", 3, T0 + 1))?;
    assert_eq!(db.backend().counts().round_trips, 2);
    let day = DailyIssue {
        kind: DailyKind::Gap,
        project: "shop",
        day: UtcDay::containing(T0),
    };
    assert!(block_on(day.claim(&db, T0))?);
    block_on(day.record(&db, "acme/shop", 4, T0 + 2))?;
    assert_eq!(db.backend().counts().round_trips, 4);
    Ok(())
}
