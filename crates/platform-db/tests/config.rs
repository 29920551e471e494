//! sync-config's statements against SQLite with the real migrations: the history and progress of
//! an apply, the record of written keys in bulk, the registries and settings rows, drift checks,
//! and the ownership check.

use std::collections::BTreeMap;

use platform_core::services::CostTier;
use platform_core::settings::SETTINGS;
use platform_core::telemetry::Telemetry;
use platform_core::usage::BatchUsage;
use platform_core::FeatureKey;
use platform_db::config::{
    self, CurrentRows, DriftRow, FeatureRow, NewVersion, ProjectRow, RowWrites, SettingRow, Writes,
    ROWS_PER_STATEMENT,
};
use platform_db::sqlite::Sqlite;
use platform_db::tables::USAGE_ROLLUPS;
use platform_db::usage::ledger::{ByMinute, Transaction};
use platform_db::{Db, DbError, DbErrorKind, Metered, Row};
use platform_kv::families::{BudgetsConfig, ScriptMap};
use platform_kv::{block_on, PlatformWorker};

const NOW: u64 = 1_772_460_306_789;

fn setup() -> Result<(Sqlite, Db<Metered<Sqlite>>), DbError> {
    let sqlite = Sqlite::migrated()?;
    let db = Db::new(Metered::new(sqlite.clone()), PlatformWorker::SyncConfig);
    Ok((sqlite, db))
}

fn one(rows: &[Row], column: &str) -> Result<u64, DbError> {
    rows.first()
        .ok_or_else(|| DbError::decode("test", "no row"))?
        .get(column)
        .map_err(|e| DbError::decode("test", e))
}

fn version<'a>(version: &'a str, applied_at: u64, kv_total: u64) -> NewVersion<'a> {
    NewVersion {
        version,
        applied_at,
        document: r#"{"services":{}}"#,
        summary: r#"{"kv_keys":3}"#,
        kv_total,
        replaces: None,
    }
}

/// Records a version that must be recorded.
fn record(db: &Db<Metered<Sqlite>>, new: NewVersion<'_>) -> Result<u64, DbError> {
    block_on(config::record_version(db, new))?.ok_or_else(|| DbError::decode("test", "not recorded"))
}

/// The key of script `s{i:05}`'s map entry, as sync-config writes it.
fn script_key(i: usize) -> String {
    match ScriptMap::key(&format!("s{i:05}")) {
        Ok(key) => key.as_str().to_owned(),
        Err(e) => panic!("{e}"),
    }
}

fn budgets_key() -> String {
    BudgetsConfig::key().map_or_else(|e| panic!("{e}"), |key| key.as_str().to_owned())
}

fn keys(n: usize, digest: &str) -> Vec<(String, String)> {
    (0..n).map(|i| (script_key(i), format!("{digest}{i}"))).collect()
}

#[test]
fn an_apply_is_recorded_and_its_progress_advanced() -> Result<(), DbError> {
    let (_, db) = setup()?;
    assert_eq!(block_on(config::latest(&db))?, None);
    let id = record(&db, version("v1", NOW, 5))?;

    let recorded = block_on(config::latest(&db))?.ok_or_else(|| DbError::decode("test", "no config"))?;
    assert_eq!(
        (recorded.id, recorded.version.as_str(), recorded.applied_at),
        (id, "v1", NOW)
    );
    assert_eq!(recorded.document.as_deref(), Some(r#"{"services":{}}"#));
    assert_eq!(
        (
            recorded.kv_total,
            recorded.kv_done,
            recorded.runs,
            recorded.completed_at
        ),
        (5, 0, 0, None)
    );

    // A first run writes three keys and is not complete; the second writes one, deletes one and is.
    block_on(config::record_run(&db, id, &keys(3, "d"), &[], NOW + 1, false))?;
    let after_one = block_on(config::latest(&db))?.ok_or_else(|| DbError::decode("test", "no config"))?;
    assert_eq!(
        (after_one.kv_done, after_one.runs, after_one.completed_at),
        (3, 1, None)
    );
    let deleted = vec![script_key(0)];
    block_on(config::record_run(
        &db,
        id,
        &[(budgets_key(), "b".to_owned())],
        &deleted,
        NOW + 2,
        true,
    ))?;
    let done = block_on(config::latest(&db))?.ok_or_else(|| DbError::decode("test", "no config"))?;
    assert_eq!(
        (done.kv_done, done.runs, done.completed_at),
        (5, 2, Some(NOW + 2))
    );
    let written = block_on(config::written(&db))?;
    assert_eq!(
        written.keys().map(String::as_str).collect::<Vec<_>>(),
        [budgets_key(), script_key(1), script_key(2)]
    );

    // Drift reopens the apply for the keys forgotten.
    block_on(config::forget_drift(&db, id, &[script_key(1)]))?;
    let reopened = block_on(config::latest(&db))?.ok_or_else(|| DbError::decode("test", "no config"))?;
    assert_eq!(
        (reopened.kv_total, reopened.kv_done, reopened.completed_at),
        (6, 5, None)
    );
    assert!(!block_on(config::written(&db))?.contains_key(&script_key(1)));

    // A newer config is the current one; the history lists the older ones without documents.
    // (Reopened by drift, the apply holds off the next one for its lease.)
    let later = NOW + config::APPLY_LEASE_MS + 10;
    let second = record(
        &db,
        NewVersion {
            replaces: Some(id),
            ..version("v2", later, 1)
        },
    )?;
    assert!(second > id);
    let latest = block_on(config::latest(&db))?.ok_or_else(|| DbError::decode("test", "no config"))?;
    assert_eq!(latest.version, "v2");
    let earlier = block_on(config::earlier(&db, 100))?;
    assert_eq!(earlier.len(), 1);
    assert_eq!(
        (
            earlier[0].id,
            earlier[0].version.as_str(),
            earlier[0].document.as_deref()
        ),
        (id, "v1", None)
    );
    assert_eq!((earlier[0].runs, earlier[0].kv_done), (2, 5));
    Ok(())
}

#[test]
fn two_applies_planned_at_once_record_one_and_the_other_is_told_to_retry() -> Result<(), DbError> {
    let (_, db) = setup()?;
    let first = record(&db, version("v1", NOW, 1))?;
    // Both planned against v1; v2 gets there first, v3 is refused with nothing written.
    let v2 = NewVersion {
        replaces: Some(first),
        ..version("v2", NOW + 1, 1)
    };
    assert_eq!(
        block_on(config::record_version(&db, v2))?,
        None,
        "v1 is still being applied"
    );
    block_on(config::record_run(&db, first, &[], &[], NOW + 2, true))?;
    let second = record(
        &db,
        NewVersion {
            replaces: Some(first),
            ..version("v2", NOW + 3, 1)
        },
    )?;
    let v3 = NewVersion {
        replaces: Some(first),
        ..version("v3", NOW + 4, 1)
    };
    assert_eq!(
        block_on(config::record_version(&db, v3))?,
        None,
        "planned against v1, not v2"
    );
    let none = NewVersion {
        replaces: None,
        ..version("v3", NOW + 4, 1)
    };
    assert_eq!(block_on(config::record_version(&db, none))?, None);
    let latest = block_on(config::latest(&db))?.ok_or_else(|| DbError::decode("test", "no config"))?;
    assert_eq!((latest.id, latest.version.as_str()), (second, "v2"));
    // An apply left unfinished past its lease no longer holds the next one off.
    let late = NewVersion {
        replaces: Some(second),
        ..version("v3", NOW + 3 + config::APPLY_LEASE_MS + 1, 1)
    };
    assert!(block_on(config::record_version(&db, late))?.is_some());
    Ok(())
}

#[test]
fn written_keys_are_recorded_and_forgotten_in_bulk() -> Result<(), DbError> {
    let (sqlite, db) = setup()?;
    let id = record(&db, version("v1", NOW, 0))?;
    let count = 2 * ROWS_PER_STATEMENT + 203;
    let first = keys(count, "a");

    let statements = config::record_keys(&first, NOW);
    assert_eq!(statements.len(), 3, "one statement per {ROWS_PER_STATEMENT} rows");
    assert!(
        statements.iter().all(|s| s.params().len() == 2),
        "one JSON array and the time"
    );

    let before = db.backend().counts();
    block_on(config::record_run(&db, id, &first, &[], NOW, false))?;
    let counts = db.backend().counts();
    assert_eq!(
        (
            counts.round_trips - before.round_trips,
            counts.statements - before.statements
        ),
        (1, 4),
        "three chunks and the progress, in one transaction"
    );
    let written = block_on(config::written(&db))?;
    let expected: BTreeMap<String, String> = first.iter().cloned().collect();
    assert_eq!(written, expected);

    // Rewritten keys take their new digest and time; forgotten keys leave the record.
    let rewritten = keys(ROWS_PER_STATEMENT + 1, "b");
    let forgotten: Vec<String> = first
        .iter()
        .skip(ROWS_PER_STATEMENT + 1)
        .take(ROWS_PER_STATEMENT + 50)
        .map(|(key, _)| key.clone())
        .collect();
    assert_eq!(config::forget_keys(&forgotten).len(), 2);
    block_on(config::record_run(
        &db,
        id,
        &rewritten,
        &forgotten,
        NOW + 1_000,
        false,
    ))?;
    let written = block_on(config::written(&db))?;
    assert_eq!(written.len(), count - forgotten.len());
    assert_eq!(written.get(&script_key(0)).map(String::as_str), Some("b0"));
    assert_eq!(
        written.get(&script_key(count - 1)).map(String::as_str),
        Some(format!("a{}", count - 1).as_str())
    );
    assert!(forgotten.iter().all(|key| !written.contains_key(key)));
    let rows = sqlite.select(&format!(
        "SELECT COUNT(*) AS n FROM synced_kv_keys WHERE written_at = {}",
        NOW + 1_000
    ))?;
    assert_eq!(one(&rows, "n")?, (ROWS_PER_STATEMENT + 1) as u64);
    let progress = block_on(config::latest(&db))?.ok_or_else(|| DbError::decode("test", "no config"))?;
    assert_eq!(
        (progress.kv_done, progress.runs),
        ((count + rewritten.len() + forgotten.len()) as u64, 2)
    );
    Ok(())
}

fn project(id: &str, tier: u8, scripts: &str) -> ProjectRow {
    ProjectRow {
        project_id: id.into(),
        display_name: format!("The {id}"),
        repository: format!("acme/{id}"),
        tier,
        scripts: scripts.into(),
    }
}

fn feature(project: &str, name: &str, circuit_breaker: bool, cost_tier: CostTier) -> FeatureRow {
    FeatureRow {
        feature_key: format!("{project}:api:{name}"),
        project_id: project.into(),
        category: "api".into(),
        feature: name.into(),
        display_name: name.into(),
        circuit_breaker,
        cost_tier,
    }
}

fn by<R: Clone>(rows: &[R], key: impl Fn(&R) -> String) -> BTreeMap<String, R> {
    rows.iter().map(|row| (key(row), row.clone())).collect()
}

#[test]
fn registries_are_replaced_as_the_config_changes() -> Result<(), DbError> {
    let (sqlite, db) = setup()?;
    let projects = [
        project("shop", 1, r#"["shop-api"]"#),
        project("blog", 2, r#"["blog-api","blog-cron"]"#),
    ];
    let features = [
        feature("shop", "pay", true, CostTier::High),
        feature("shop", "export", false, CostTier::Medium),
        feature("blog", "render", true, CostTier::Low),
    ];
    let writes = Writes {
        projects: RowWrites {
            upsert: &projects,
            delete: &[],
        },
        features: RowWrites {
            upsert: &features,
            delete: &[],
        },
        ..Writes::default()
    };
    block_on(config::write_rows(&db, writes, NOW))?;
    let current = block_on(config::current_rows(&db))?;
    assert_eq!(
        current,
        CurrentRows {
            settings: BTreeMap::new(),
            projects: by(&projects, |p| p.project_id.clone()),
            features: by(&features, |f| f.feature_key.clone()),
            skipped: Vec::new(),
        },
        "every field read back as written, flags and tiers included"
    );
    let flags = sqlite
        .select("SELECT circuit_breaker FROM feature_registry WHERE feature_key = 'shop:api:export'")?;
    assert_eq!(one(&flags, "circuit_breaker")?, 0, "a flag is stored as 0 or 1");

    // The blog leaves the config and the shop changes.
    let changed_project = [project("shop", 3, r#"["shop-api","shop-worker"]"#)];
    let changed_feature = [feature("shop", "pay", false, CostTier::Critical)];
    let gone_project = ["blog".to_owned()];
    let gone_feature = ["blog:api:render".to_owned()];
    let writes = Writes {
        projects: RowWrites {
            upsert: &changed_project,
            delete: &gone_project,
        },
        features: RowWrites {
            upsert: &changed_feature,
            delete: &gone_feature,
        },
        ..Writes::default()
    };
    block_on(config::write_rows(&db, writes, NOW + 60_000))?;
    let current = block_on(config::current_rows(&db))?;
    assert_eq!(current.projects, by(&changed_project, |p| p.project_id.clone()));
    assert_eq!(
        current.features.keys().map(String::as_str).collect::<Vec<_>>(),
        ["shop:api:export", "shop:api:pay"]
    );
    assert_eq!(current.features.get("shop:api:pay"), Some(&changed_feature[0]));
    let stamps =
        sqlite.select("SELECT updated_at FROM feature_registry WHERE feature_key = 'shop:api:export'")?;
    assert_eq!(
        one(&stamps, "updated_at")?,
        NOW,
        "an unchanged row is not rewritten"
    );

    // Nothing to write is no round trip at all.
    let before = db.backend().counts();
    block_on(config::write_rows(&db, Writes::default(), NOW))?;
    assert_eq!(db.backend().counts(), before);
    Ok(())
}

#[test]
fn settings_rows_are_upserted_and_deleted_only_for_the_keys_named() -> Result<(), DbError> {
    let (sqlite, db) = setup()?;
    let [first, second, ..] = SETTINGS else {
        return Err(DbError::decode("test", "fewer than two settings"));
    };
    // A row budgets.yaml does not manage (platform-usage's own) and two it does.
    sqlite.execute(&format!(
        "INSERT INTO settings (key, value, updated_at) VALUES \
         ('not_from_budgets', 'kept', 1), ('{}', 'old', 1), ('{}', 'old', 1)",
        first.key, second.key
    ))?;
    let current = block_on(config::current_rows(&db))?;
    assert_eq!(
        current.settings.keys().map(String::as_str).collect::<Vec<_>>(),
        {
            let mut keys = vec![first.key, second.key];
            keys.sort();
            keys
        },
        "only the keys budgets.yaml manages are read"
    );

    let upsert = [SettingRow {
        key: first.key.into(),
        value: "new".into(),
    }];
    let delete = [second.key.to_owned()];
    let writes = Writes {
        settings: RowWrites {
            upsert: &upsert,
            delete: &delete,
        },
        ..Writes::default()
    };
    block_on(config::write_rows(&db, writes, NOW))?;
    let rows = sqlite.select("SELECT key, value, updated_at FROM settings ORDER BY key")?;
    let rows: Vec<(String, String, u64)> = rows
        .iter()
        .map(|row| Ok((row.get("key")?, row.get("value")?, row.get("updated_at")?)))
        .collect::<Result<_, String>>()
        .map_err(|e| DbError::decode("test", e))?;
    let mut expected = vec![
        (first.key.to_owned(), "new".to_owned(), NOW),
        ("not_from_budgets".to_owned(), "kept".to_owned(), 1),
    ];
    expected.sort();
    assert_eq!(rows, expected);
    Ok(())
}

#[test]
fn the_last_drift_check_is_read_back() -> Result<(), DbError> {
    let (_, db) = setup()?;
    assert_eq!(block_on(config::last_drift_check(&db))?, None);
    let check = |checked_at, checked, repaired: &str| DriftRow {
        checked_at,
        version: "v1".into(),
        checked,
        repaired: repaired.into(),
    };
    block_on(config::record_drift_check(&db, &check(NOW, 7, "[]")))?;
    let later = check(
        NOW + 86_400_000,
        8,
        r#"[{"key":"SCRIPT_MAP:a","reason":"missing"}]"#,
    );
    block_on(config::record_drift_check(&db, &later))?;
    assert_eq!(block_on(config::last_drift_check(&db))?, Some(later.clone()));
    // A check recorded again at the same millisecond replaces the first.
    let again = check(later.checked_at, 9, "[]");
    block_on(config::record_drift_check(&db, &again))?;
    assert_eq!(block_on(config::last_drift_check(&db))?, Some(again));
    Ok(())
}

#[test]
fn a_write_to_a_platform_usage_table_is_refused_with_nothing_of_its_batch_written() -> Result<(), DbError> {
    let (sqlite, db) = setup()?;
    let feature = FeatureKey::parse("shop:api:pay").map_err(|e| DbError::decode("test", e))?;
    let mut usage = BatchUsage::default();
    let body =
        serde_json::json!({"feature_key": feature.as_str(), "metrics": {"kvReads": 3}, "timestamp": NOW});
    usage.add(&Telemetry::parse(&body, NOW).map_err(|e| DbError::decode("test", e))?);
    // platform-usage's accumulation of usage_rollups, behind statements sync-config may make.
    let mut tx = Transaction::new(NOW);
    for statement in config::record_keys(&keys(3, "d"), NOW) {
        tx.push(statement);
    }
    tx.count(&ByMinute::new(), &usage);
    assert!(
        tx.statements().iter().any(|s| s.writes() == Some(&USAGE_ROLLUPS)),
        "the batch writes usage_rollups"
    );

    let before = db.backend().counts();
    match block_on(tx.commit(&db, "a mixed batch")) {
        Err(error) => {
            assert_eq!(error.kind, DbErrorKind::Refused);
            assert!(error.detail.contains("usage_rollups"), "{error}");
        }
        Ok(_) => panic!("sync-config wrote usage_rollups"),
    }
    assert_eq!(db.backend().counts(), before, "refused before any round trip");
    assert!(block_on(config::written(&db))?.is_empty());
    let totals = sqlite.select("SELECT COUNT(*) AS n FROM usage_rollups")?;
    assert_eq!(one(&totals, "n")?, 0);
    Ok(())
}

#[test]
fn a_plan_reads_what_it_is_made_against_in_one_round_trip() -> Result<(), DbError> {
    let (sqlite, db) = setup()?;
    let id = record(&db, version("v1", NOW, 2))?;
    block_on(config::record_run(&db, id, &keys(2, "d"), &[], NOW, true))?;
    let projects = [project("shop", 1, r#"["shop-api"]"#)];
    let writes = Writes {
        projects: RowWrites {
            upsert: &projects,
            delete: &[],
        },
        ..Writes::default()
    };
    block_on(config::write_rows(&db, writes, NOW))?;
    sqlite.execute(&format!(
        "INSERT INTO settings (key, value, updated_at) VALUES ('{}', '5', 1)",
        SETTINGS[0].key
    ))?;

    let before = db.backend().counts();
    let (written, rows) = block_on(config::recorded(&db))?;
    assert_eq!(db.backend().counts().round_trips - before.round_trips, 1);
    assert_eq!(written, keys(2, "d").into_iter().collect::<BTreeMap<_, _>>());
    assert_eq!(rows.projects, by(&projects, |p| p.project_id.clone()));
    assert_eq!(
        rows.settings.get(SETTINGS[0].key).map(|s| s.value.as_str()),
        Some("5")
    );
    assert!(rows.features.is_empty());
    Ok(())
}

#[test]
fn a_registry_row_edited_by_hand_is_left_out_not_fatal() -> Result<(), DbError> {
    let (sqlite, db) = setup()?;
    sqlite.execute(
        "INSERT INTO feature_registry VALUES ('app:api:ok', 'app', 'api', 'ok', 'Ok', 1, 'low', 1), \
         ('app:api:bad', 'app', 'api', 'bad', 'Bad', 2, 'low', 1)",
    )?;
    let rows = block_on(config::current_rows(&db))?;
    // The readable row is there; the other is reported and left for the apply to write afresh.
    assert_eq!(rows.features.keys().collect::<Vec<_>>(), ["app:api:ok"]);
    assert_eq!(rows.skipped.len(), 1);
    assert!(rows.skipped[0].contains("circuit_breaker"), "{:?}", rows.skipped);
    Ok(())
}
