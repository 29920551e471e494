//! The in-memory backend's KV rules, the store's typing, expiry and ownership, and the primitives.
#![allow(clippy::unwrap_used)]

use platform_core::{FeatureKey, Metric, ProjectId, UtcHour};
use platform_kv::families::*;
use platform_kv::kv::Kv;
use platform_kv::primitives::Source;
use platform_kv::*;
use serde_json::json;

const NOW: u64 = 1_772_460_306_789; // 2026-03-02T14:05:06.789Z

fn setup(worker: PlatformWorker) -> (ManualClock, Metered<MemoryKv>, Store<MemoryKv, ManualClock>) {
    let clock = ManualClock::at(NOW);
    let kv = MemoryKv::new(clock.clone());
    (
        clock.clone(),
        Metered::new(kv.clone()),
        Store::new(kv, worker, clock),
    )
}

fn feature() -> FeatureKey {
    FeatureKey::parse("my-app:scanner:ocr").unwrap()
}

mod memory_backend {
    use super::*;

    fn put(kv: &MemoryKv, key: &str, options: PutOptions) -> Result<(), KvError> {
        block_on(kv.put(key, "v", &options))
    }

    #[test]
    fn refuses_what_kv_refuses() {
        let (_, _, store) = setup(PlatformWorker::PlatformUsage);
        let kv = store.kv();
        let long = "k".repeat(513);
        assert!(matches!(
            put(kv, &long, PutOptions::default()),
            Err(KvError::InvalidKey { .. })
        ));
        assert!(matches!(
            put(kv, "", PutOptions::default()),
            Err(KvError::InvalidKey { .. })
        ));
        assert!(matches!(
            put(kv, "..", PutOptions::default()),
            Err(KvError::InvalidKey { .. })
        ));
        let short_ttl = PutOptions {
            expiration: Some(Expiration::Ttl(59)),
            metadata: None,
        };
        let err = put(kv, "a", short_ttl).unwrap_err();
        assert!(err.to_string().contains("below KV's minimum of 60 s"), "{err}");
        let soon = PutOptions {
            expiration: Some(Expiration::At(NOW / 1000 + 30)),
            metadata: None,
        };
        assert!(matches!(
            put(kv, "a", soon),
            Err(KvError::InvalidExpiration { .. })
        ));
        let fat = PutOptions {
            expiration: None,
            metadata: Some(json!({ "x": "y".repeat(1020) })),
        };
        assert!(matches!(put(kv, "a", fat), Err(KvError::MetadataTooLarge { .. })));
        assert!(matches!(
            block_on(kv.list("", None, Some(1001))),
            Err(KvError::InvalidListLimit { limit: 1001 })
        ));
        assert!(
            block_on(kv.get("a")).unwrap().is_none(),
            "refused writes leave nothing behind"
        );
    }

    #[test]
    fn one_write_per_key_per_second() {
        let (clock, _, store) = setup(PlatformWorker::PlatformUsage);
        let kv = store.kv();
        put(kv, "a", PutOptions::default()).unwrap();
        put(kv, "b", PutOptions::default()).unwrap();
        let err = put(kv, "a", PutOptions::default()).unwrap_err();
        assert!(err.to_string().contains("429"), "{err}");
        assert!(matches!(
            block_on(kv.delete("a")),
            Err(KvError::RateLimited { .. })
        ));
        clock.advance_ms(1000);
        put(kv, "a", PutOptions::default()).unwrap();
    }

    #[test]
    fn keys_expire_on_the_clock() {
        let (clock, _, store) = setup(PlatformWorker::PlatformUsage);
        let kv = store.kv();
        put(
            kv,
            "a",
            PutOptions {
                expiration: Some(Expiration::Ttl(60)),
                metadata: None,
            },
        )
        .unwrap();
        clock.advance_secs(59);
        assert!(block_on(kv.get("a")).unwrap().is_some());
        clock.advance_secs(1);
        assert!(block_on(kv.get("a")).unwrap().is_none());
        assert!(block_on(kv.list("", None, None)).unwrap().keys.is_empty());
    }

    #[test]
    fn lists_in_pages_with_a_cursor() {
        let (_, _, store) = setup(PlatformWorker::PlatformUsage);
        let kv = store.kv();
        for i in 0..2500 {
            put(kv, &format!("p:{i:05}"), PutOptions::default()).unwrap();
        }
        put(kv, "q:0", PutOptions::default()).unwrap();
        let mut names = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let page = block_on(kv.list("p:", cursor.as_deref(), None)).unwrap();
            assert!(page.keys.len() <= 1000);
            names.extend(page.keys.into_iter().map(|k| k.name));
            pages += 1;
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(pages, 3);
        assert_eq!(names.len(), 2500);
        assert!(names.windows(2).all(|w| w[0] < w[1]));
    }
}

mod store {
    use super::*;

    #[test]
    fn typed_values_round_trip_with_the_family_expiry_and_a_writer_stamp() {
        let (_, _, store) = setup(PlatformWorker::PlatformUsage);
        let key = BudgetWarn::key(&feature(), Metric::D1Writes, 70).unwrap();
        assert_eq!(key.as_str(), "BUDGET_WARN:my-app:scanner:ocr:d1_writes:70");
        block_on(store.put(&key, &Timestamp(NOW))).unwrap();
        assert_eq!(block_on(store.get(&key)).unwrap(), Some(Timestamp(NOW)));
        let listed = block_on(store.kv().list("BUDGET_WARN:", None, None))
            .unwrap()
            .keys;
        assert_eq!(listed[0].expiration, Some(NOW / 1000 + 3600));
        assert_eq!(
            listed[0].metadata,
            Some(json!({ "writer": "platform-usage", "written_at": NOW }))
        );
        assert_eq!(
            block_on(store.kv().get(key.as_str())).unwrap().as_deref(),
            Some("2026-03-02T14:05:06.789Z")
        );
    }

    #[test]
    fn families_without_expiry_are_kept_and_caller_metadata_is_merged() {
        let (_, _, store) = setup(PlatformWorker::PlatformUsage);
        let key = FeatureEnabled::key(&feature()).unwrap();
        let extra = json!({ "reason": "d1_writes over budget" });
        block_on(store.put_with(&key, &false, None, extra.as_object().cloned())).unwrap();
        let read = block_on(store.get_with_metadata(&key)).unwrap().unwrap();
        assert!(!read.value);
        assert_eq!(
            read.metadata,
            Some(json!({ "reason": "d1_writes over budget", "writer": "platform-usage", "written_at": NOW }))
        );
        assert_eq!(store.kv().snapshot(), vec![(key.to_string(), None)]);
        let forged = json!({ "writer": "someone" }).as_object().cloned();
        assert!(matches!(
            block_on(store.put_with(&key, &true, None, forged)),
            Err(StoreError::Metadata { .. })
        ));
    }

    #[test]
    fn writes_to_families_of_other_workers_are_refused_but_reads_are_open() {
        let (_, _, usage) = setup(PlatformWorker::PlatformUsage);
        let collector = Store::new(
            usage.kv().clone(),
            PlatformWorker::ErrorCollector,
            ManualClock::at(NOW),
        );
        let key = FeatureEnabled::key(&feature()).unwrap();
        let err = block_on(collector.put(&key, &false)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "platform-error-collector may not write FeatureEnabled (FEATURE:{key}:enabled): \
             it is not one of the family's writers"
        );
        assert!(matches!(
            block_on(collector.delete(&key)),
            Err(StoreError::NotOwner { .. })
        ));
        block_on(usage.put(&key, &false)).unwrap();
        assert_eq!(block_on(collector.get(&key)).unwrap(), Some(false));
        // The shared alert module writes from every worker.
        let slack = SlackAlert::key("budget", "my-app:scanner:ocr").unwrap();
        assert!(block_on(collector.put(&slack, &Timestamp(NOW))).is_ok());
    }

    #[test]
    fn a_value_of_the_wrong_type_is_reported_with_its_key() {
        let (_, _, store) = setup(PlatformWorker::PlatformUsage);
        let key = FeatureEnabled::key(&feature()).unwrap();
        block_on(store.kv().put(key.as_str(), "yes", &PutOptions::default())).unwrap();
        let err = block_on(store.get(&key)).unwrap_err().to_string();
        assert!(
            err.contains("FEATURE:my-app:scanner:ocr:enabled") && err.contains("\"yes\""),
            "{err}"
        );
    }

    #[test]
    fn keys_read_back_parse_only_as_their_own_family() {
        let made = FeatureBudget::key(&feature()).unwrap();
        assert_eq!(Key::<FeatureBudget>::parse(made.as_str()), Ok(made));
        let monthly = "CONFIG:FEATURE:my-app:scanner:ocr:BUDGET_MONTHLY";
        assert!(Key::<FeatureBudgetMonthly>::parse(monthly).is_ok());
        assert!(matches!(
            Key::<FeatureBudget>::parse(monthly),
            Err(KeyError::Collides {
                other: "FeatureBudgetMonthly",
                ..
            })
        ));
        assert!(matches!(
            Key::<ScriptMap>::parse("nobody:knows"),
            Err(KeyError::Collides { other: "(none)", .. })
        ));
        assert!(matches!(
            Key::<ScriptMap>::parse(&format!("SCRIPT_MAP:{}", "w".repeat(600))),
            Err(KeyError::TooLong { .. })
        ));
    }

    #[test]
    fn key_constructors_validate_parts() {
        assert_eq!(
            ScriptMap::key("my:worker").unwrap_err().to_string(),
            "ScriptMap: part {scriptName} = \"my:worker\" may not contain ':'"
        );
        assert_eq!(
            NotificationCount::key("").unwrap_err().to_string(),
            "NotificationCount: part {userId} is empty"
        );
        assert!(matches!(
            ErrorFingerprint::key("a\nb"),
            Err(KeyError::ControlCharacter { .. })
        ));
        assert!(matches!(
            ScriptMap::key(&"w".repeat(600)),
            Err(KeyError::TooLong { .. })
        ));
        let collision = SettingValue::key("ALL").unwrap_err().to_string();
        assert!(
            collision.contains("would belong to family SettingsAll"),
            "{collision}"
        );
        let project = ProjectId::parse("my-app").unwrap();
        assert_eq!(
            ProjectStatus::key(&project).unwrap().as_str(),
            "PROJECT:MY-APP:STATUS"
        );
        assert_eq!(
            ConfigProjectStatus::key(&project).unwrap().as_str(),
            "CONFIG:PROJECT:my-app:STATUS"
        );
        assert_eq!(
            ConfigGlobalStatus::key().unwrap().as_str(),
            "CONFIG:GLOBAL:STATUS"
        );
    }

    #[test]
    fn a_bulk_read_spans_families_of_one_value_type_in_one_operation() {
        let (clock, metered, _) = setup(PlatformWorker::SyncConfig);
        let store = Store::new(&metered, PlatformWorker::SyncConfig, clock);
        let daily = FeatureBudget::key(&feature()).unwrap();
        let monthly = FeatureBudgetMonthly::key(&feature()).unwrap();
        let limits: platform_core::MetricLimits = serde_json::from_str(r#"{"kv_reads": 10}"#).unwrap();
        block_on(store.put(&daily, &Json(limits.clone()))).unwrap();
        let before = metered.counts();
        let read = block_on(store.get_bulk(&[&daily, &monthly])).unwrap();
        assert_eq!(read, vec![Ok(Some(Json(limits))), Ok(None)]);
        assert_eq!(metered.counts().reads, before.reads + 1);
    }

    #[test]
    fn listing_a_family_leaves_out_keys_of_families_sharing_its_prefix() {
        let (clock, _, store) = setup(PlatformWorker::PlatformUsage);
        block_on(store.put(
            &SettingValue::key("cb_cooldown_seconds").unwrap(),
            &"300".to_owned(),
        ))
        .unwrap();
        let all = SettingsAll::key().unwrap();
        block_on(store.put(&all, &Json(platform_core::settings::Settings::resolve([])))).unwrap();
        clock.advance_secs(1);
        let listed = block_on(store.list_all(&KeyPrefix::<SettingValue>::all())).unwrap();
        let names: Vec<_> = listed.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["CONFIG:SETTINGS:cb_cooldown_seconds"]);
    }
}

mod primitives {
    use super::*;

    #[test]
    fn a_dedup_marker_is_true_only_for_the_first_caller_within_its_expiry() {
        let (clock, metered, _) = setup(PlatformWorker::PlatformUsage);
        let store = Store::new(&metered, PlatformWorker::PlatformUsage, clock.clone());
        let key = BudgetWarn::key(&feature(), Metric::KvReads, 90).unwrap();
        assert!(block_on(store.mark_once(&key)).unwrap());
        assert!(!block_on(store.mark_once(&key)).unwrap());
        assert_eq!(
            metered.counts(),
            OpCounts {
                reads: 2,
                writes: 1,
                deletes: 0,
                lists: 0
            }
        );
        clock.advance_secs(3599);
        assert!(!block_on(store.mark_once(&key)).unwrap());
        clock.advance_secs(1);
        assert!(
            block_on(store.mark_once(&key)).unwrap(),
            "the marker expired after an hour"
        );
    }

    #[test]
    fn a_lock_has_one_owner_until_it_expires_or_is_released() {
        let (clock, _, store) = setup(PlatformWorker::ErrorCollector);
        let key = IssueLock::key("a1b2c3").unwrap();
        assert!(block_on(store.try_lock(&key, "isolate-a", 30)).unwrap());
        clock.advance_secs(1);
        assert!(!block_on(store.try_lock(&key, "isolate-b", 30)).unwrap());
        assert!(
            !block_on(store.unlock(&key, "isolate-b")).unwrap(),
            "only the owner releases"
        );
        clock.advance_secs(30);
        assert!(
            block_on(store.try_lock(&key, "isolate-b", 30)).unwrap(),
            "an expired hold is taken over"
        );
        clock.advance_secs(1);
        assert!(block_on(store.unlock(&key, "isolate-b")).unwrap());
        clock.advance_secs(1);
        assert!(block_on(store.try_lock(&key, "isolate-a", 30)).unwrap());
        // Storage keeps the record at least KV's minimum of 60 s, even for a shorter hold.
        let (_, expiration) = store.kv().snapshot().pop().unwrap();
        assert_eq!(expiration, Some(clock.now_ms() / 1000 + 60));
    }

    #[test]
    fn a_windowed_counter_counts_per_window() {
        let (clock, _, store) = setup(PlatformWorker::ErrorCollector);
        let hour = ErrorRate::key("my-worker", UtcHour::containing(clock.now_ms())).unwrap();
        assert_eq!(block_on(store.increment(&hour, 3)).unwrap(), 3);
        clock.advance_secs(1);
        assert_eq!(block_on(store.increment(&hour, 2)).unwrap(), 5);
        clock.advance_secs(3600);
        let next = ErrorRate::key("my-worker", UtcHour::containing(clock.now_ms())).unwrap();
        assert_eq!(next.as_str(), "ERROR_RATE:my-worker:2026-03-02T15");
        assert_eq!(block_on(store.increment(&next, 1)).unwrap(), 1);
        clock.advance_secs(7200);
        assert_eq!(
            block_on(store.get(&hour)).unwrap(),
            None,
            "past windows expire after 2 h"
        );
    }

    #[test]
    fn cache_aside_computes_once_and_heals_a_corrupt_entry() {
        let (clock, _, store) = setup(PlatformWorker::PlatformUsage);
        let key = SettingValue::key("cb_cooldown_seconds").unwrap();
        let mut computed = 0;
        let mut compute = async || -> Result<String, StoreError> {
            computed += 1;
            Ok("300".to_owned())
        };
        let first = block_on(store.get_or_set(&key, &mut compute)).unwrap();
        assert_eq!((first.0.as_str(), first.1), ("300", Source::Computed));
        let second = block_on(store.get_or_set(&key, &mut compute)).unwrap();
        assert_eq!(second.1, Source::Cache);
        assert_eq!(computed, 1);

        let all = SettingsAll::key().unwrap();
        block_on(store.kv().put(all.as_str(), "{not json", &PutOptions::default())).unwrap();
        clock.advance_secs(1);
        let healed = block_on(store.get_or_set(&all, async || -> Result<_, StoreError> {
            Ok(Json(platform_core::settings::Settings::resolve([])))
        }))
        .unwrap();
        assert_eq!(healed.1, Source::Computed);
        assert!(healed.2.is_none());
        assert!(block_on(store.get(&all)).unwrap().is_some());
    }

    #[test]
    fn delete_by_prefix_pages_through_and_stops_at_its_budget() {
        let (clock, metered, _) = setup(PlatformWorker::Notifications);
        let store = Store::new(&metered, PlatformWorker::Notifications, clock.clone());
        for i in 0..1200 {
            block_on(store.put(
                &NotificationRead::key("admin", &format!("n{i}")).unwrap(),
                &Timestamp(NOW),
            ))
            .unwrap();
        }
        block_on(store.put(&NotificationRead::key("bob", "n1").unwrap(), &Timestamp(NOW))).unwrap();
        let admin = KeyPrefix::<NotificationRead>::with(&[Part::segment("admin")]).unwrap();
        assert_eq!(admin.as_str(), "NOTIFICATION_READ:admin:");
        clock.advance_secs(1);
        let first = block_on(store.delete_prefix(&admin, 1000)).unwrap();
        assert_eq!((first.deleted, first.complete), (1000, false));
        let rest = block_on(store.delete_prefix(&admin, 1000)).unwrap();
        assert_eq!((rest.deleted, rest.complete), (200, true));
        let left: Vec<_> = metered.inner().snapshot().into_iter().map(|(k, _)| k).collect();
        assert_eq!(left, ["NOTIFICATION_READ:bob:n1"]);
    }
}

mod parts {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct ProjectsOnly {
        #[serde(default)]
        projects: BTreeMap<String, serde_json::Value>,
    }

    #[test]
    fn a_part_of_a_json_value_is_read_alone_and_a_bad_one_names_its_key() {
        let (clock, _, store) = setup(PlatformWorker::SyncConfig);
        let key = BudgetsConfig::key().unwrap();
        assert_eq!(
            block_on(store.get_part::<_, _, ProjectsOnly>(&key)).unwrap(),
            None
        );
        let raw = json!({"projects": {"shop": {"daily": {"kv_writes": 5}}}, "defaults": {}, "alerts": {}});
        block_on(
            store
                .kv()
                .put(key.as_str(), &raw.to_string(), &PutOptions::default()),
        )
        .unwrap();
        let part: ProjectsOnly = block_on(store.get_part(&key)).unwrap().unwrap();
        assert_eq!(part.projects["shop"], json!({"daily": {"kv_writes": 5}}));
        clock.advance_secs(2);
        block_on(
            store
                .kv()
                .put(key.as_str(), "{\"projects\": 3}", &PutOptions::default()),
        )
        .unwrap();
        let error = block_on(store.get_part::<_, _, ProjectsOnly>(&key)).unwrap_err();
        assert!(error.to_string().contains("CONFIG:BUDGETS"), "{error}");
    }
}
