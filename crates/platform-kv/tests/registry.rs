//! The registry against the keyspace specification it implements (tests/fixtures/keyspace-spec.md),
//! and the generated reference against the committed one.

use std::collections::BTreeMap;

use platform_kv::classify::family_of;
use platform_kv::families::example_key;
use platform_kv::key::placeholder_names;
use platform_kv::{PlatformWorker, Spec, Writers, REGISTRY};

/// A row of the specification: pattern → (TTL, Worker).
fn spec_rows() -> BTreeMap<String, (String, String)> {
    let text = include_str!("fixtures/keyspace-spec.md");
    text.lines()
        .filter(|line| line.starts_with("| `"))
        .map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let pattern = cells[1].trim_matches('`').to_owned();
            (pattern, (cells[3].to_owned(), cells[4].to_owned()))
        })
        .collect()
}

/// Workers named in the specification's Worker column, by their crate or deployed name.
fn spec_worker(label: &str) -> Option<PlatformWorker> {
    PlatformWorker::ALL
        .into_iter()
        .find(|w| w.crate_name() == label || w.script_name() == label)
}

fn registry_spec(pattern: &str) -> Option<&'static Spec> {
    REGISTRY.iter().copied().find(|spec| spec.pattern == pattern)
}

/// Writers that later requirements add beyond the specification's owner, each with its reason.
const EXTRA_WRITERS: &[(&str, PlatformWorker)] = &[
    // sync-config writes the script map from services.yaml.
    ("SCRIPT_MAP:{scriptName}", PlatformWorker::SyncConfig),
    // sync-config writes the thresholds from budgets.yaml.
    ("alert-thresholds:config", PlatformWorker::SyncConfig),
    // sync-config invalidates the settings cache when it applies settings.
    ("CONFIG:SETTINGS:ALL", PlatformWorker::SyncConfig),
    ("CONFIG:SETTINGS:{key}", PlatformWorker::SyncConfig),
];

/// TTLs that later requirements change from the specification's (pattern, specified, now), each
/// with its reason.
const CHANGED_TTLS: &[(&str, &str, &str)] = &[
    // Read marks expire with the notification they mark (kept 90 days) instead of living forever.
    ("NOTIFICATION_READ:{userId}:{notifId}", "None", "2160hr"),
];

/// Families added beyond the specification: the consumer contract and the enforced daily budget.
const COMPATIBILITY_FAMILIES: &[&str] = &[
    "CONFIG:FEATURE:{id}:STATUS",
    "CONFIG:FEATURE:{id}:REASON",
    "CONFIG:PROJECT:{project}:STATUS",
    "CONFIG:GLOBAL:STATUS",
    "CONFIG:FEATURE:{key}:BUDGET",
    // Pattern discovery's shadow stage: the collector tests these on live errors.
    "PATTERNS:DYNAMIC:SHADOW",
];

#[test]
fn every_specified_pattern_is_registered_with_its_ttl_and_owner() {
    let rows = spec_rows();
    assert_eq!(rows.len(), 34, "the specification lists 34 patterns");
    for (pattern, (ttl, owner)) in &rows {
        let spec = registry_spec(pattern).unwrap_or_else(|| panic!("{pattern} is not registered"));
        let changed = CHANGED_TTLS.iter().find(|(p, _, _)| p == pattern);
        match changed {
            Some((_, specified, now)) => {
                assert_eq!(ttl, specified, "the specified TTL of {pattern}");
                assert_eq!(spec.ttl.to_string(), *now, "TTL of {pattern}");
            }
            None => assert_eq!(spec.ttl.to_string(), *ttl, "TTL of {pattern}"),
        }
        match (owner.as_str(), spec.writers) {
            ("shared/slack-alerts", Writers::SharedAlertModule) => {}
            (label, Writers::Only(writers)) => {
                let worker = spec_worker(label).unwrap_or_else(|| panic!("unknown worker {label}"));
                assert!(writers.contains(&worker), "{pattern} must be writable by {label}");
                for extra in writers.iter().filter(|w| **w != worker) {
                    assert!(
                        EXTRA_WRITERS.contains(&(pattern.as_str(), *extra)),
                        "{pattern}: writer {extra} is not in the specification nor declared"
                    );
                }
            }
            (label, writers) => panic!("{pattern}: owner {label} but writers {writers:?}"),
        }
    }
}

#[test]
fn the_registry_is_the_specification_plus_the_compatibility_families() {
    let rows = spec_rows();
    let mut extra: Vec<&str> = REGISTRY
        .iter()
        .map(|spec| spec.pattern)
        .filter(|pattern| !rows.contains_key(*pattern))
        .collect();
    extra.sort_unstable();
    let mut expected = COMPATIBILITY_FAMILIES.to_vec();
    expected.sort_unstable();
    assert_eq!(extra, expected);
    assert_eq!(REGISTRY.len(), 34 + COMPATIBILITY_FAMILIES.len());
}

#[test]
fn names_and_patterns_are_unique() {
    for (i, a) in REGISTRY.iter().enumerate() {
        for b in &REGISTRY[i + 1..] {
            assert_ne!(a.name, b.name);
            assert_ne!(a.pattern, b.pattern);
        }
    }
}

#[test]
fn every_example_has_one_value_per_placeholder_and_classifies_to_its_family() {
    for spec in REGISTRY {
        assert_eq!(
            placeholder_names(spec.pattern).len(),
            spec.example.len(),
            "{}",
            spec.name
        );
        let example = example_key(spec);
        assert_eq!(
            family_of(REGISTRY, &example).map(|s| s.name),
            Some(spec.name),
            "{example}"
        );
    }
}

#[test]
fn expiring_families_respect_kv_minimum() {
    for spec in REGISTRY {
        if let Some(seconds) = spec.ttl.seconds() {
            assert!(
                seconds >= 60,
                "{} expires after {seconds} s; KV's minimum is 60",
                spec.name
            );
        }
    }
}

#[test]
fn committed_reference_is_fresh() {
    let committed = include_str!("../../../docs/kv-keys.md");
    let generated = platform_kv::docs::render();
    assert!(
        committed == generated,
        "docs/kv-keys.md is stale: run scripts/kv-docs and commit the result"
    );
}

#[test]
fn the_most_literal_pattern_wins() {
    assert_eq!(
        family_of(REGISTRY, "CONFIG:SETTINGS:ALL").map(|s| s.name),
        Some("SettingsAll")
    );
    assert_eq!(
        family_of(REGISTRY, "CONFIG:SETTINGS:cb_cooldown_seconds").map(|s| s.name),
        Some("SettingValue")
    );
    assert_eq!(
        family_of(REGISTRY, "BUDGET_WARN_MONTHLY:a:b:c:kv_reads:exceeded").map(|s| s.name),
        Some("BudgetWarnMonthlyExceeded")
    );
    assert_eq!(
        family_of(REGISTRY, "CONFIG:FEATURE:a:b:c:BUDGET").map(|s| s.name),
        Some("FeatureBudget")
    );
    assert!(family_of(REGISTRY, "nobody:knows").is_none());
}
