//! Pattern discovery's tables against SQLite with the real migrations: suggestions are stored
//! once per rule (a rejected rule stays rejected, a refused one is checked again), transitions
//! only move a pattern from the status they expect, and the collector's per-batch sightings add
//! up per pattern, day and fingerprint.

use std::collections::BTreeMap;

use platform_db::patterns::{self, Change};
use platform_db::sqlite::Sqlite;
use platform_db::{Db, DbError};
use platform_errors::patterns::RuleType;
use platform_errors::sightings::Sighting;
use platform_kv::block_on;
use platform_kv::PlatformWorker::{ErrorCollector, PatternDiscovery};
use platform_patterns::discovery::{plan, Settings, Source, Suggestion};
use platform_patterns::safety::Limits;
use platform_patterns::{Rule, Status, DAY_MS};

const NOW: u64 = 20_000 * DAY_MS;

fn store_error(sqlite: &Sqlite, fingerprint: &str, exception: &str, sample: &str, occurrences: u64) {
    let message = platform_errors::normalize::normalize(sample).replace('\'', "''");
    let sample = sample.replace('\'', "''");
    sqlite
        .execute(&format!(
            "INSERT INTO error_fingerprints (fingerprint, project, script, kind, exception, priority, title, \
             message, sample, occurrences, first_seen, last_seen, last_context, last_logs) VALUES \
             ('{fingerprint}', 'shop', 'shop', 'exception', '{exception}', 'P2', 't', '{message}', '{sample}', \
             {occurrences}, {NOW}, {NOW}, '', '[]')"
        ))
        .unwrap_or_else(|e| panic!("{e}"));
}

fn seeded() -> Sqlite {
    let sqlite = Sqlite::migrated().unwrap_or_else(|e| panic!("{e}"));
    for (i, vendor) in ["acme", "globex", "initech"].iter().enumerate() {
        store_error(
            &sqlite,
            &format!("v{i}"),
            "Error",
            &format!("Ledger API throttled call c_{i}9 for {vendor}, slow down"),
            4,
        );
    }
    for i in 0..20 {
        store_error(
            &sqlite,
            &format!("o{i}"),
            "Error",
            &format!("order {i} failed validation"),
            3,
        );
    }
    sqlite
}

#[test]
fn a_run_stores_each_rule_once_and_never_suggests_a_rejected_one_again() -> Result<(), DbError> {
    let sqlite = seeded();
    let db = Db::new(sqlite.clone(), PatternDiscovery);
    let corpus = block_on(patterns::corpus(&db, NOW - DAY_MS, 2_000))?;
    assert_eq!(corpus.len(), 23);
    let run = plan(&corpus, &Settings::default());
    assert_eq!(run.suggestions.len(), 1, "{:#?}", run.skipped);
    let suggestion = &run.suggestions[0];
    let stored = block_on(db.run("storing", patterns::suggest(suggestion, NOW)))?;
    assert_eq!(stored.rows.len(), 1);
    let row = block_on(patterns::get(&db, &suggestion.id))?.unwrap_or_else(|| panic!("not stored"));
    assert_eq!(row.status, Status::Pending);
    assert_eq!(
        row.rule(),
        Rule::new(RuleType::Contains, "ledger api throttled call slow down")
    );
    assert_eq!(row.fingerprints, ["v0", "v1", "v2"]);

    let rejected = patterns::transition(
        &suggestion.id,
        Status::Pending,
        Status::Rejected,
        &Change {
            reason: Some("we want these issues"),
            by: Some("admin"),
            ..Change::default()
        },
        NOW + 1,
    );
    assert!(block_on(patterns::move_one(&db, rejected.clone()))?);
    // Moved once: the same transition finds it no longer pending.
    assert!(!block_on(patterns::move_one(&db, rejected))?);
    // The next run finds the same rule: it stays rejected, with its reason.
    let again = block_on(db.run("storing", patterns::suggest(suggestion, NOW + DAY_MS)))?;
    assert!(again.rows.is_empty());
    let known = block_on(patterns::known(
        &db,
        &[suggestion.id.clone(), "pat-unknown".to_owned()],
    ))?;
    assert_eq!(known, BTreeMap::from([(suggestion.id.clone(), Status::Rejected)]));
    let row = block_on(patterns::get(&db, &suggestion.id))?.unwrap_or_else(|| panic!("gone"));
    assert_eq!(
        (row.status, row.reason.as_deref()),
        (Status::Rejected, Some("we want these issues"))
    );
    Ok(())
}

#[test]
fn a_refused_rule_keeps_its_reason_and_is_checked_again() -> Result<(), DbError> {
    let sqlite = seeded();
    let db = Db::new(sqlite.clone(), PatternDiscovery);
    let corpus = block_on(patterns::corpus(&db, 0, 2_000))?;
    let run = plan(&corpus, &Settings::default());
    let cluster = run
        .clusters
        .iter()
        .find(|c| c.template.starts_with("Ledger"))
        .unwrap_or_else(|| panic!("no ledger cluster"));
    let broad = Suggestion::checked(
        cluster,
        Rule::new(RuleType::Regex, "(ledger|order)"),
        "rate-limited",
        Source::Model,
        &corpus,
        &Limits::default(),
    );
    block_on(db.run("storing", patterns::suggest(&broad, NOW)))?;
    let row = block_on(patterns::get(&db, &broad.id))?.unwrap_or_else(|| panic!("not stored"));
    assert_eq!(row.status, Status::Refused);
    assert_eq!(
        row.reason.as_deref(),
        Some("too broad: matches 20 of 20 other stored errors (at most 5 %)")
    );
    // With a looser limit the same rule passes: the refusal is lifted.
    let loose = Limits {
        max_other_share: 1.0,
        ..Limits::default()
    };
    let passing = Suggestion::checked(
        cluster,
        broad.rule.clone(),
        "rate-limited",
        Source::Model,
        &corpus,
        &loose,
    );
    assert_eq!(
        block_on(db.run("storing", patterns::suggest(&passing, NOW + 1)))?
            .rows
            .len(),
        1
    );
    let row = block_on(patterns::get(&db, &broad.id))?.unwrap_or_else(|| panic!("gone"));
    assert_eq!((row.status, row.reason), (Status::Pending, None));
    Ok(())
}

#[test]
fn sightings_add_up_per_pattern_day_and_fingerprint() -> Result<(), DbError> {
    let sqlite = Sqlite::migrated()?;
    let collector = Db::new(sqlite.clone(), ErrorCollector);
    let discovery = Db::new(sqlite.clone(), PatternDiscovery);
    let day = NOW / DAY_MS;
    let sighting = |fingerprint: &str, d: u64| Sighting {
        pattern: "pat-1".to_owned(),
        fingerprint: fingerprint.to_owned(),
        day: d,
    };
    let batch = BTreeMap::from([
        (sighting("a", day), 2),
        (sighting("b", day), 1),
        (sighting("a", day + 1), 4),
    ]);
    block_on(collector.batch("recording", patterns::record_sightings(&batch, NOW)))?;
    block_on(collector.batch(
        "recording",
        patterns::record_sightings(&BTreeMap::from([(sighting("a", day), 3)]), NOW + 5),
    ))?;
    let evidence = block_on(patterns::evidence(&discovery, &["pat-1".to_owned()]))?;
    let days: Vec<(u64, u64, u64)> = evidence["pat-1"]
        .days
        .iter()
        .map(|(d, e)| (*d, e.matches, e.fingerprints))
        .collect();
    assert_eq!(days, [(day, 6, 2), (day + 1, 4, 1)]);
    let silenced = block_on(patterns::silenced(&discovery, "pat-1", 10))?;
    assert_eq!(
        silenced
            .iter()
            .map(|s| (s.fingerprint.as_str(), s.matches))
            .collect::<Vec<_>>(),
        [("a", 9), ("b", 1)]
    );
    // The collector records matches; it never writes the patterns themselves.
    let refused = block_on(collector.run(
        "moving",
        patterns::transition("pat-1", Status::Shadow, Status::Ready, &Change::default(), NOW),
    ));
    assert!(refused.is_err());
    Ok(())
}

#[test]
fn the_corpus_is_read_on_the_last_seen_index() -> Result<(), DbError> {
    let sqlite = Sqlite::migrated()?;
    let plan = sqlite.plan(&patterns::corpus_statement(NOW, 2_000))?;
    assert!(
        plan.iter()
            .any(|step| step.contains("error_fingerprints_by_last_seen")),
        "{plan:?}"
    );
    Ok(())
}
