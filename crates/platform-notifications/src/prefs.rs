//! A person's preferences (`NOTIFICATION_PREFS:{userId}`): a validated schema, honoured by the
//! inbox list, the unread count and every delivery.
//!
//! ```json
//! {"muted_sources": ["pattern-discovery"], "muted_categories": ["budget"],
//!  "channels": ["in_app", "slack"], "digest": "daily"}
//! ```
//! `in_app` is always a channel: the inbox is the record. With `slack`, `digest` chooses between
//! one Slack message per notification (`off`) and one per hour or day (`hourly`, `daily`).

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use crate::contract::{Category, SOURCE_MAX};
use crate::fields::{name_value, Fields, Invalid};

/// Entries per muted list.
pub const MUTED_MAX: usize = 50;

/// How often Slack digests come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Frequency {
    Hourly,
    Daily,
}

impl Frequency {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hourly => "hourly",
            Self::Daily => "daily",
        }
    }
}

/// What reaches a person on Slack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slack {
    /// In-app only.
    Off,
    Immediate,
    Digest(Frequency),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefs {
    pub muted_sources: BTreeSet<String>,
    pub muted_categories: BTreeSet<Category>,
    pub slack_channel: bool,
    pub digest: Option<Frequency>,
}

impl Default for Prefs {
    /// In-app only, nothing muted.
    fn default() -> Self {
        Self {
            muted_sources: BTreeSet::new(),
            muted_categories: BTreeSet::new(),
            slack_channel: false,
            digest: None,
        }
    }
}

impl Prefs {
    /// Whether a notification of `source` and `category` is shown (listed, counted, delivered).
    pub fn shows(&self, source: &str, category: Category) -> bool {
        !self.muted_sources.contains(source) && !self.muted_categories.contains(&category)
    }

    pub fn slack(&self) -> Slack {
        match (self.slack_channel, self.digest) {
            (false, _) => Slack::Off,
            (true, None) => Slack::Immediate,
            (true, Some(frequency)) => Slack::Digest(frequency),
        }
    }

    /// A whole preferences document (`PUT /notifications/preferences`); absent fields take their
    /// defaults, unknown ones are refused.
    pub fn from_json(value: &Value) -> Result<Self, Invalid> {
        let fields = Fields::of(value, "body")?;
        fields.only(&["muted_sources", "muted_categories", "channels", "digest"])?;
        let muted_sources = fields
            .list("muted_sources", MUTED_MAX, |v, p| name_value(v, p, SOURCE_MAX))?
            .unwrap_or_default();
        let muted_categories = fields
            .list("muted_categories", MUTED_MAX, Category::from_json)?
            .unwrap_or_default();
        let channels = fields
            .list("channels", 2, |v, p| match v.as_str() {
                Some(channel @ ("in_app" | "slack")) => Ok(channel.to_owned()),
                _ => Err(Invalid::new(p, "must be one of in_app, slack")),
            })?
            .unwrap_or_else(|| vec!["in_app".to_owned()]);
        if !channels.iter().any(|c| c == "in_app") {
            return Err(Invalid::new(
                "channels",
                "must include in_app: the inbox keeps every notification",
            ));
        }
        let digest = match fields.get("digest") {
            None => None,
            Some(value) => match value.as_str() {
                Some("off") => None,
                Some("hourly") => Some(Frequency::Hourly),
                Some("daily") => Some(Frequency::Daily),
                _ => return Err(Invalid::new("digest", "must be one of off, hourly, daily")),
            },
        };
        Ok(Self {
            muted_sources: muted_sources.into_iter().collect(),
            muted_categories: muted_categories.into_iter().collect(),
            slack_channel: channels.iter().any(|c| c == "slack"),
            digest,
        })
    }

    pub fn to_json(&self) -> Value {
        let mut channels = vec!["in_app"];
        if self.slack_channel {
            channels.push("slack");
        }
        json!({
            "muted_sources": self.muted_sources,
            "muted_categories": self.muted_categories.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
            "channels": channels,
            "digest": self.digest.map_or("off", Frequency::as_str),
        })
    }

    /// The stored object (KV values are JSON objects).
    pub fn to_object(&self) -> Map<String, Value> {
        match self.to_json() {
            Value::Object(object) => object,
            _ => Map::new(),
        }
    }

    /// A stored document; one that no longer validates (written by hand, an older schema) reads
    /// as the defaults rather than failing every request of its person.
    pub fn stored(object: Option<&Map<String, Value>>) -> Self {
        object
            .and_then(|object| Self::from_json(&Value::Object(object.clone())).ok())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_validates_and_round_trips() {
        let body = json!({
            "muted_sources": ["pattern-discovery"],
            "muted_categories": ["budget"],
            "channels": ["in_app", "slack"],
            "digest": "daily",
        });
        let prefs = Prefs::from_json(&body).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(prefs.slack(), Slack::Digest(Frequency::Daily));
        assert!(!prefs.shows("pattern-discovery", Category::Pattern));
        assert!(!prefs.shows("platform-usage", Category::Budget));
        assert!(prefs.shows("platform-usage", Category::Breaker));
        assert_eq!(prefs.to_json(), body);
        assert_eq!(Prefs::stored(Some(&prefs.to_object())), prefs);
    }

    #[test]
    fn defaults_are_in_app_only() {
        let prefs = Prefs::from_json(&json!({})).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(prefs, Prefs::default());
        assert_eq!(prefs.slack(), Slack::Off);
        let immediate = Prefs::from_json(&json!({"channels": ["in_app", "slack"], "digest": "off"}));
        assert_eq!(immediate.map(|p| p.slack()), Ok(Slack::Immediate));
        assert_eq!(Prefs::stored(None), Prefs::default());
    }

    #[test]
    fn refusals_name_the_field() {
        for (body, field) in [
            (json!({"muted_sources": "x"}), "muted_sources"),
            (json!({"muted_sources": ["ok", "Not Ok"]}), "muted_sources[1]"),
            (json!({"muted_categories": ["weather"]}), "muted_categories[0]"),
            (json!({"channels": ["email"]}), "channels[0]"),
            (json!({"channels": ["slack"]}), "channels"),
            (json!({"digest": "weekly"}), "digest"),
            (json!({"email_enabled": true}), "email_enabled"),
            (json!([]), "body"),
        ] {
            assert_eq!(
                Prefs::from_json(&body).map_err(|e| e.field),
                Err(field.to_owned())
            );
        }
    }
}
