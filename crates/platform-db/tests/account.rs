//! The account's usage per collected hour and dataset, against SQLite with the real migrations.

use platform_core::account::{AccountMetric, Exactness, UsageLine};
use platform_core::UtcHour;
use platform_db::sqlite::Sqlite;
use platform_db::{account, Db, DbError};
use platform_kv::block_on;
use platform_kv::PlatformWorker::{PlatformUsage, Sentinel};

const HOUR: u64 = 3_600_000;
const T0: u64 = 1_785_542_400_000; // 2026-08-01T00:00:00Z

fn line(metric: AccountMetric, resource: &str, project: Option<&str>, amount: f64) -> UsageLine {
    UsageLine::new(metric, resource, project, amount).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn collecting_an_hour_again_replaces_it() -> Result<(), DbError> {
    let db = Db::new(Sqlite::migrated()?, PlatformUsage);
    let hour = UtcHour::containing(T0 + 5);
    let first = [line(AccountMetric::WorkersRequests, "api", Some("app"), 10.0)];
    block_on(db.run(
        "store",
        account::replace_hour(hour, "workers", &first, Exactness::Exact, T0)?,
    ))?;
    let again = [
        line(AccountMetric::WorkersRequests, "api", Some("app"), 12.0),
        line(AccountMetric::WorkersRequests, "cron", None, 1.0),
    ];
    let sampled = Exactness::Sampled { mean_interval: 10.0 };
    block_on(db.run(
        "store",
        account::replace_hour(hour, "workers", &again, sampled, T0 + HOUR)?,
    ))?;

    let mut skipped = Vec::new();
    let hours = block_on(account::hours(&db, T0, T0 + HOUR, &mut skipped))?;
    assert!(skipped.is_empty(), "{skipped:?}");
    assert_eq!(hours.len(), 1);
    assert_eq!(hours[0].lines, again);
    assert_eq!(hours[0].exactness, sampled);
    assert_eq!(hours[0].collected_at, T0 + HOUR);
    Ok(())
}

#[test]
fn datasets_of_an_hour_are_kept_apart_and_ranges_are_half_open() -> Result<(), DbError> {
    let db = Db::new(Sqlite::migrated()?, PlatformUsage);
    for (offset, dataset) in [
        (0, "workers"),
        (0, "kv_operations"),
        (1, "workers"),
        (2, "workers"),
    ] {
        let hour = UtcHour::containing(T0 + offset * HOUR);
        let lines = [line(AccountMetric::KvReads, "ns", None, 1.0)];
        block_on(db.run(
            "store",
            account::replace_hour(hour, dataset, &lines, Exactness::Exact, T0)?,
        ))?;
    }
    let mut skipped = Vec::new();
    let hours = block_on(account::hours(&db, T0, T0 + 2 * HOUR, &mut skipped))?;
    let seen: Vec<(u64, &str)> = hours.iter().map(|h| (h.hour_at, h.dataset.as_str())).collect();
    assert_eq!(
        seen,
        [(T0, "kv_operations"), (T0, "workers"), (T0 + HOUR, "workers")]
    );
    Ok(())
}

#[test]
fn a_bad_dataset_id_is_refused_before_any_write() {
    let hour = UtcHour::containing(T0);
    for bad in ["", "Workers", "kv ops", &"x".repeat(41)] {
        assert!(
            account::replace_hour(hour, bad, &[], Exactness::Exact, T0).is_err(),
            "{bad:?}"
        );
    }
}

#[test]
fn a_row_that_cannot_be_read_is_skipped_not_fatal() -> Result<(), DbError> {
    let sqlite = Sqlite::migrated()?;
    sqlite.execute(&format!(
        "INSERT INTO account_usage VALUES ({T0}, 'workers', '[[\"kv.nope\", \"ns\", null, 1]]', 1, {T0}), \
         ({T0}, 'd1', '[[\"d1.rows_read\", \"db\", null, 5]]', 1, {T0})"
    ))?;
    let db = Db::new(sqlite, PlatformUsage);
    let mut skipped = Vec::new();
    let hours = block_on(account::hours(&db, T0, T0 + HOUR, &mut skipped))?;
    assert_eq!(hours.len(), 1);
    assert_eq!(hours[0].dataset, "d1");
    assert_eq!(skipped.len(), 1);
    assert!(skipped[0].contains("unknown metric"), "{skipped:?}");
    Ok(())
}

#[test]
fn only_platform_usage_writes_account_usage() -> Result<(), DbError> {
    let db = Db::new(Sqlite::migrated()?, Sentinel);
    let statement = account::replace_hour(UtcHour::containing(T0), "workers", &[], Exactness::Exact, T0)?;
    assert!(block_on(db.run("store", statement)).is_err());
    Ok(())
}
