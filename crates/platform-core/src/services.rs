//! The account's projects, their Worker scripts and features (services.yaml, normalised), and the
//! script map the error collector reads (`SCRIPT_MAP:{script}`).

use crate::sorted::CollectSorted;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::feature::{FeatureKey, ProjectId};

/// A GitHub repository, `owner/repo`, where a project's error issues are filed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GithubRepo {
    owner: String,
    name: String,
}

impl GithubRepo {
    /// Parses `owner/repo` with GitHub's rules: an owner of 1 to 39 letters, digits and inner
    /// single hyphens; a repository name of 1 to 100 letters, digits, `.`, `_` and `-`, not `.`
    /// or `..`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let Some((owner, name)) = raw.split_once('/') else {
            return Err(format!("{raw:?} is not owner/repo"));
        };
        let owner_ok = (1..=39).contains(&owner.len())
            && owner.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !owner.starts_with('-')
            && !owner.ends_with('-')
            && !owner.contains("--");
        if !owner_ok {
            return Err(format!(
                "{raw:?} is not owner/repo: owner {owner:?} must be 1 to 39 letters, digits or single inner hyphens"
            ));
        }
        let name_ok = (1..=100).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            && name != "."
            && name != "..";
        if !name_ok {
            return Err(format!(
                "{raw:?} is not owner/repo: repository {name:?} must be 1 to 100 letters, digits, '.', '_' or '-'"
            ));
        }
        Ok(Self {
            owner: owner.to_owned(),
            name: name.to_owned(),
        })
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for GithubRepo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

impl Serialize for GithubRepo {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for GithubRepo {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// A project's priority: 0 is the most important. The error collector files exceptions of tier 0
/// as P0, tier 1 as P1 and tier 2 as P2.
pub const MAX_TIER: u8 = 2;

/// A Worker script name as Cloudflare allows it: 1 to 63 lower-case letters, digits, `-` or `_`.
pub fn check_script_name(name: &str) -> Result<(), String> {
    let ok = (1..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a Worker script name (1 to 63 lower-case letters, digits, '-' or '_')"
        ))
    }
}

/// Checks a resource id as `resources:` lists it and Cloudflare's analytics report it: a KV namespace,
/// D1 database or queue id, an R2 bucket name (`eu_<name>` in the EU jurisdiction), a Vectorize index
/// or Hyperdrive config: 1 to 100 printable ASCII characters, no spaces.
pub fn check_resource_id(id: &str) -> Result<(), String> {
    if (1..=100).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(format!(
            "{id:?} is not a resource id (1 to 100 printable ASCII characters, no spaces)"
        ))
    }
}

/// What a feature's spend costs, for dashboards and alert wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CostTier {
    Low,
    Medium,
    High,
    Critical,
}

impl CostTier {
    pub const ALL: [CostTier; 4] = [Self::Low, Self::Medium, Self::High, Self::Critical];

    pub const fn name(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|tier| tier.name() == name)
    }
}

/// services.yaml, normalised.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicesDocument {
    pub projects: BTreeMap<ProjectId, Project>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    pub display_name: String,
    pub repository: GithubRepo,
    pub tier: u8,
    /// The Worker scripts whose errors belong to the project.
    #[serde(default)]
    pub scripts: BTreeSet<String>,
    /// The account resources (KV namespaces, D1 databases, R2 buckets, queues, Vectorize indexes,
    /// Hyperdrive configs) whose usage belongs to the project, by the id analytics reports.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub resources: BTreeSet<String>,
    #[serde(default)]
    pub features: BTreeMap<FeatureKey, Feature>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feature {
    pub display_name: String,
    /// Whether a breaker guards the feature. An unguarded feature has no budget keys: nothing
    /// would act on them.
    pub circuit_breaker: bool,
    pub cost_tier: CostTier,
    /// How often the sentinel should hear from it; left out, it learns the cadence from history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expect>,
}

/// A feature's declared rhythm (`expect:` in services.yaml).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// `traffic`: driven by requests; its cadence is learned from its history.
    Traffic,
    /// `every 24h`, `every 15m`, `every 7d`: a scheduled job heard from at that interval (ms).
    Every(u64),
}

impl Expect {
    /// The longest interval that can be declared: the sentinel keeps about a week of activity.
    pub const MAX_EVERY_MS: u64 = 7 * 86_400_000;

    /// Parses `traffic` or `every <n>m|h|d` (1 minute to 7 days).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw == "traffic" {
            return Ok(Self::Traffic);
        }
        let bad = || format!("{raw:?} is not `traffic` or `every <n>m`, `every <n>h`, `every <n>d`");
        let interval = raw.strip_prefix("every ").ok_or_else(bad)?.trim();
        let (count, unit) = interval.split_at(interval.len().saturating_sub(1));
        let unit_ms = match unit {
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(bad()),
        };
        let count: u64 = count.trim().parse().map_err(|_| bad())?;
        let every = count.saturating_mul(unit_ms);
        if !(60_000..=Self::MAX_EVERY_MS).contains(&every) {
            return Err(format!("{raw:?}: the interval must be from 1 minute to 7 days"));
        }
        Ok(Self::Every(every))
    }
}

impl ServicesDocument {
    /// Every feature with its project.
    pub fn features(&self) -> impl Iterator<Item = (&ProjectId, &FeatureKey, &Feature)> {
        self.projects.iter().flat_map(|(id, project)| {
            project
                .features
                .iter()
                .map(move |(key, feature)| (id, key, feature))
        })
    }

    pub fn feature(&self, key: &FeatureKey) -> Option<&Feature> {
        self.projects
            .get(&key.project())
            .and_then(|project| project.features.get(key))
    }

    /// `SCRIPT_MAP:{script}` for every script of every project.
    pub fn script_mappings(&self) -> BTreeMap<&str, ScriptMapping> {
        self.projects
            .iter()
            .flat_map(|(id, project)| {
                project.scripts.iter().map(move |script| {
                    (
                        script.as_str(),
                        ScriptMapping {
                            project: id.clone(),
                            repository: project.repository.clone(),
                            tier: project.tier,
                            display_name: project.display_name.clone(),
                        },
                    )
                })
            })
            .collect_map()
    }
}

/// The value of `SCRIPT_MAP:{script}`: the project a Worker script belongs to, where its errors
/// are filed, and its priority tier. Field names are the consumer protocol's. Written whole;
/// read leniently, because operators write it by hand too: only `project` and `repository` are
/// needed (`tier` defaults to the lowest priority, `displayName` to the project), a tier past
/// [`MAX_TIER`] is the lowest, and unknown fields are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "WrittenByHand")]
pub struct ScriptMapping {
    pub project: ProjectId,
    pub repository: GithubRepo,
    pub tier: u8,
    #[serde(rename = "displayName")]
    pub display_name: String,
}

/// A `SCRIPT_MAP` value as an operator may have written it.
#[derive(Deserialize)]
struct WrittenByHand {
    project: ProjectId,
    repository: GithubRepo,
    #[serde(default)]
    tier: Option<u8>,
    #[serde(default, rename = "displayName", alias = "display_name")]
    display_name: Option<String>,
}

impl From<WrittenByHand> for ScriptMapping {
    fn from(value: WrittenByHand) -> Self {
        Self {
            display_name: value.display_name.unwrap_or_else(|| value.project.to_string()),
            project: value.project,
            repository: value.repository,
            tier: value.tier.map_or(MAX_TIER, |tier| tier.min(MAX_TIER)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_maps_written_by_hand_read_with_defaults() {
        let read = |text: &str| serde_json::from_str::<ScriptMapping>(text);
        let bare = read(r#"{"project":"shop","repository":"acme/shop","note":"by hand"}"#).unwrap();
        assert_eq!((bare.display_name.as_str(), bare.tier), ("shop", MAX_TIER));
        let full =
            read(r#"{"project":"shop","repository":"acme/shop","tier":0,"displayName":"Shop"}"#).unwrap();
        assert_eq!((full.display_name.as_str(), full.tier), ("Shop", 0));
        assert_eq!(
            read(r#"{"project":"shop","repository":"acme/shop","tier":9}"#)
                .unwrap()
                .tier,
            MAX_TIER
        );
        assert_eq!(
            serde_json::to_value(&bare).unwrap(),
            serde_json::json!({"project":"shop","repository":"acme/shop","tier":MAX_TIER,"displayName":"shop"}),
            "written whole"
        );
        assert!(read(r#"{"project":"shop"}"#)
            .unwrap_err()
            .to_string()
            .contains("repository"));
    }

    #[test]
    fn repositories_follow_githubs_rules() {
        let repo = GithubRepo::parse("acme-co/my.app_2").unwrap();
        assert_eq!((repo.owner(), repo.name()), ("acme-co", "my.app_2"));
        assert_eq!(repo.to_string(), "acme-co/my.app_2");
        for bad in [
            "acme",
            "acme/",
            "/app",
            "-acme/app",
            "ac--me/app",
            "acme/a b",
            "acme/..",
            "a/b/c",
        ] {
            assert!(GithubRepo::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn script_names_follow_cloudflares_rules() {
        assert!(check_script_name("my-app_api2").is_ok());
        for bad in ["", "My-App", "a:b", "a b", &"x".repeat(64)] {
            assert!(check_script_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn script_mappings_use_the_consumer_protocols_field_names() {
        let mapping = ScriptMapping {
            project: ProjectId::parse("my-app").unwrap(),
            repository: GithubRepo::parse("acme/my-app").unwrap(),
            tier: 1,
            display_name: "My App".into(),
        };
        assert_eq!(
            serde_json::to_string(&mapping).unwrap(),
            r#"{"project":"my-app","repository":"acme/my-app","tier":1,"displayName":"My App"}"#
        );
        let read: ScriptMapping = serde_json::from_str(
            r#"{"project":"my-app","repository":"acme/my-app","tier":1,"displayName":"My App","synced_at":1}"#,
        )
        .unwrap();
        assert_eq!(read, mapping);
    }
}
