//! The producer contract: what a platform worker sends to create a notification
//! (`POST /notifications` through the `NOTIFICATIONS` service binding). The dedup key makes a
//! create idempotent: a retried delivery of the same key never makes a second notification.

use std::fmt;

use platform_core::time::{iso8601, parse_instant};
use platform_core::EpochMs;
use serde_json::{json, Value};

use crate::fields::{check_name, name_value, text_value, Fields, Invalid};
use crate::people::{Person, ROLE_MAX, USER_ID_MAX};

pub const DEDUP_KEY_MAX: usize = 200;
pub const SOURCE_MAX: usize = 40;
pub const TITLE_MAX: usize = 200;
pub const BODY_MAX: usize = 4000;
pub const ACTION_URL_MAX: usize = 500;
/// Named people per notification: enough for a team, small enough for one statement.
pub const PEOPLE_MAX: usize = 50;

macro_rules! names {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(raw: &str) -> Option<Self> {
                match raw { $($text => Some($name::$variant),)+ _ => None }
            }

            /// Reads the field at `path`, naming the accepted values when it is none of them.
            pub fn from_json(value: &Value, path: &str) -> Result<Self, Invalid> {
                value.as_str().and_then(Self::parse).ok_or_else(|| {
                    let known: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                    Invalid::new(path, format!("must be one of {}", known.join(", ")))
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

names! {
    /// What a notification is about; people mute by category.
    Category {
        Breaker = "breaker",
        Budget = "budget",
        Error = "error",
        Gap = "gap",
        Anomaly = "anomaly",
        Pattern = "pattern",
        System = "system",
    }
}

names! {
    /// How urgent it is, most urgent first.
    Priority {
        Critical = "critical",
        High = "high",
        Medium = "medium",
        Low = "low",
        Info = "info",
    }
}

/// Who a notification is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    Everyone,
    /// Every person with this role.
    Role(String),
    /// These people, by user id.
    People(Vec<String>),
}

impl Audience {
    /// Whether `person` is in the audience: the one rule the delivery and the inbox share (the
    /// inbox's query applies the same rule in SQL, and a test holds the two together).
    pub fn includes(&self, person: &Person) -> bool {
        match self {
            Self::Everyone => true,
            Self::Role(role) => person.role == *role,
            Self::People(ids) => ids.contains(&person.id),
        }
    }

    /// The people of `everyone` the audience names, in their order.
    pub fn resolve<'p>(&self, everyone: &'p [Person]) -> Vec<&'p Person> {
        everyone.iter().filter(|person| self.includes(person)).collect()
    }

    /// `everyone`, `role` or `people`: the stored kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Everyone => "everyone",
            Self::Role(_) => "role",
            Self::People(_) => "people",
        }
    }

    /// The stored role, or the people as a JSON array; `None` for everyone.
    pub fn stored_value(&self) -> Option<String> {
        match self {
            Self::Everyone => None,
            Self::Role(role) => Some(role.clone()),
            Self::People(ids) => Some(json!(ids).to_string()),
        }
    }

    /// The audience as stored by [`Audience::kind`] and [`Audience::stored_value`].
    pub fn from_stored(kind: &str, value: Option<&str>) -> Option<Self> {
        match (kind, value) {
            ("everyone", _) => Some(Self::Everyone),
            ("role", Some(role)) => Some(Self::Role(role.to_owned())),
            ("people", Some(ids)) => serde_json::from_str(ids).ok().map(Self::People),
            _ => None,
        }
    }

    pub fn to_json(&self) -> Value {
        match self {
            Self::Everyone => json!({"kind": "everyone"}),
            Self::Role(role) => json!({"kind": "role", "role": role}),
            Self::People(ids) => json!({"kind": "people", "people": ids}),
        }
    }

    pub fn from_json(value: &Value, path: &str) -> Result<Self, Invalid> {
        let fields = Fields::of(value, path)?;
        let kind = fields.required("kind")?;
        match kind.as_str() {
            Some("everyone") => {
                fields.only(&["kind"])?;
                Ok(Self::Everyone)
            }
            Some("role") => {
                fields.only(&["kind", "role"])?;
                Ok(Self::Role(name_value(
                    fields.required("role")?,
                    &fields.path("role"),
                    ROLE_MAX,
                )?))
            }
            Some("people") => {
                fields.only(&["kind", "people"])?;
                let people = fields
                    .list("people", PEOPLE_MAX, |v, p| name_value(v, p, USER_ID_MAX))?
                    .ok_or_else(|| Invalid::new(fields.path("people"), "is required"))?;
                if people.is_empty() {
                    return Err(Invalid::new(
                        fields.path("people"),
                        "must name at least one person",
                    ));
                }
                Ok(Self::People(people))
            }
            _ => Err(Invalid::new(
                fields.path("kind"),
                "must be one of everyone, role, people",
            )),
        }
    }
}

/// A notification as a producer sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationInput {
    /// The producer's identity of the event: the same key is the same notification.
    pub dedup_key: String,
    /// The producing worker (`platform-usage`); people mute by source.
    pub source: String,
    pub category: Category,
    pub priority: Priority,
    pub title: String,
    pub body: Option<String>,
    pub audience: Audience,
    pub action_url: Option<String>,
    /// After this instant it is no longer shown, and the purge deletes it.
    pub expires_at: Option<EpochMs>,
    /// The producer already posted it to the team's Slack channel, so nobody is sent it again
    /// immediately (digests still list it).
    pub slack_posted: bool,
}

const FIELDS: &[&str] = &[
    "dedup_key",
    "source",
    "category",
    "priority",
    "title",
    "body",
    "audience",
    "action_url",
    "expires_at",
    "slack_posted",
];

impl NotificationInput {
    pub fn to_json(&self) -> Value {
        json!({
            "dedup_key": self.dedup_key,
            "source": self.source,
            "category": self.category.as_str(),
            "priority": self.priority.as_str(),
            "title": self.title,
            "body": self.body,
            "audience": self.audience.to_json(),
            "action_url": self.action_url,
            "expires_at": self.expires_at.map(iso8601),
            "slack_posted": self.slack_posted,
        })
    }

    /// Validates a producer's body. An expiry must be an ISO 8601 instant in the future.
    pub fn from_json(value: &Value, now: EpochMs) -> Result<Self, Invalid> {
        let fields = Fields::of(value, "body")?;
        fields.only(FIELDS)?;
        let source = fields.required("source")?;
        let source = source
            .as_str()
            .ok_or_else(|| Invalid::new("source", "must be a string"))
            .and_then(|text| {
                check_name(text, SOURCE_MAX)
                    .map(|()| text.to_owned())
                    .map_err(|reason| Invalid::new("source", reason))
            })?;
        let action_url = fields.optional_text("action_url", ACTION_URL_MAX)?;
        if let Some(url) = &action_url {
            if !(url.starts_with("https://") || url.starts_with("http://") || url.starts_with('/')) {
                return Err(Invalid::new(
                    "action_url",
                    "must be an http(s) URL or a path starting with /",
                ));
            }
        }
        let expires_at = match fields.get("expires_at") {
            None => None,
            Some(value) => {
                let at = value
                    .as_str()
                    .filter(|raw| raw.contains('T'))
                    .and_then(parse_instant)
                    .ok_or_else(|| Invalid::new("expires_at", "must be an ISO 8601 instant"))?;
                if at <= now {
                    return Err(Invalid::new("expires_at", "must be in the future"));
                }
                Some(at)
            }
        };
        Ok(Self {
            dedup_key: text_value(fields.required("dedup_key")?, "dedup_key", DEDUP_KEY_MAX)?,
            source,
            category: Category::from_json(fields.required("category")?, "category")?,
            priority: Priority::from_json(fields.required("priority")?, "priority")?,
            title: fields.text("title", TITLE_MAX)?,
            body: fields.optional_text("body", BODY_MAX)?,
            audience: Audience::from_json(fields.required("audience")?, "audience")?,
            action_url,
            expires_at,
            slack_posted: fields.optional_bool("slack_posted")?.unwrap_or(false),
        })
    }

    /// The notification of one row of the shared alert outbox: every worker's alerts reach the
    /// inbox this way, each row once (its id is the dedup key). The outbox posts the row to Slack
    /// itself.
    pub fn from_alert(outbox_id: u64, kind: &str, text: &str) -> Self {
        let (source, category, priority, title) = match kind {
            "trip" => (
                "platform-usage",
                Category::Breaker,
                Priority::Critical,
                "Circuit breaker tripped",
            ),
            "reset" => (
                "platform-usage",
                Category::Breaker,
                Priority::Info,
                "Circuit breaker reset",
            ),
            "project" => (
                "platform-usage",
                Category::Breaker,
                Priority::High,
                "Project breaker changed level",
            ),
            "global" => (
                "platform-usage",
                Category::Breaker,
                Priority::Critical,
                "Everything stopped",
            ),
            "budget" => (
                "platform-usage",
                Category::Budget,
                Priority::High,
                "Budget warning",
            ),
            "collector" => (
                "error-collector",
                Category::System,
                Priority::High,
                "Error collector needs attention",
            ),
            _ => ("platform", Category::System, Priority::Medium, "Platform alert"),
        };
        let body: String = text.chars().take(BODY_MAX).collect();
        Self {
            dedup_key: format!("alert_outbox:{outbox_id}"),
            source: source.to_owned(),
            category,
            priority,
            title: title.to_owned(),
            body: (!body.trim().is_empty()).then_some(body),
            audience: Audience::Everyone,
            action_url: None,
            expires_at: None,
            slack_posted: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(id: &str, role: &str) -> Person {
        Person {
            id: id.to_owned(),
            role: role.to_owned(),
            email: None,
            display_name: None,
        }
    }

    fn valid() -> Value {
        json!({
            "dedup_key": "usage:trip:app:api:x:1",
            "source": "platform-usage",
            "category": "breaker",
            "priority": "critical",
            "title": "Circuit breaker tripped",
            "audience": {"kind": "role", "role": "operator"},
            "expires_at": "2026-03-03T00:00:00Z",
        })
    }

    const NOW: EpochMs = 1_772_400_000_000;

    #[test]
    fn a_valid_body_round_trips() {
        let input = NotificationInput::from_json(&valid(), NOW).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(input.audience, Audience::Role("operator".into()));
        assert_eq!(input.expires_at, Some(1_772_496_000_000));
        assert!(!input.slack_posted);
        assert_eq!(NotificationInput::from_json(&input.to_json(), NOW), Ok(input));
    }

    #[test]
    fn every_refusal_names_its_field() {
        let cases: Vec<(&str, Value, &str)> = vec![
            ("dedup_key", Value::Null, "dedup_key"),
            ("category", json!("weather"), "category"),
            ("priority", json!(3), "priority"),
            ("title", json!("   "), "title"),
            ("source", json!("Platform Usage"), "source"),
            ("expires_at", json!("2020-01-01T00:00:00Z"), "expires_at"),
            ("expires_at", json!("tomorrow"), "expires_at"),
            ("action_url", json!("javascript:alert(1)"), "action_url"),
            (
                "audience",
                json!({"kind": "people", "people": []}),
                "audience.people",
            ),
            (
                "audience",
                json!({"kind": "people", "people": ["a", 7]}),
                "audience.people[1]",
            ),
            ("audience", json!({"kind": "team"}), "audience.kind"),
            (
                "audience",
                json!({"kind": "everyone", "role": "x"}),
                "audience.role",
            ),
            ("colour", json!("red"), "colour"),
        ];
        for (field, value, named) in cases {
            let mut body = valid();
            body[field] = value;
            let error = NotificationInput::from_json(&body, NOW).err();
            assert_eq!(error.map(|e| e.field), Some(named.to_owned()), "{field}");
        }
        assert_eq!(
            NotificationInput::from_json(&json!("x"), NOW).map_err(|e| e.field),
            Err("body".to_owned())
        );
    }

    #[test]
    fn audiences_resolve_to_people() {
        let team = [
            person("ann", "operator"),
            person("bob", "developer"),
            person("cy", "operator"),
        ];
        let ids = |audience: Audience| -> Vec<String> {
            audience.resolve(&team).iter().map(|p| p.id.clone()).collect()
        };
        assert_eq!(ids(Audience::Everyone), ["ann", "bob", "cy"]);
        assert_eq!(ids(Audience::Role("operator".into())), ["ann", "cy"]);
        assert_eq!(ids(Audience::People(vec!["bob".into(), "zed".into()])), ["bob"]);
        for audience in [
            Audience::Everyone,
            Audience::Role("operator".into()),
            Audience::People(vec!["bob".into()]),
        ] {
            let stored = Audience::from_stored(audience.kind(), audience.stored_value().as_deref());
            assert_eq!(stored, Some(audience));
        }
    }

    #[test]
    fn an_outbox_row_is_one_notification_for_everyone() {
        let trip = NotificationInput::from_alert(42, "trip", "app:api:x tripped: d1_writes 120/100");
        assert_eq!(trip.dedup_key, "alert_outbox:42");
        assert_eq!(
            (trip.category, trip.priority),
            (Category::Breaker, Priority::Critical)
        );
        assert_eq!(trip.audience, Audience::Everyone);
        assert!(trip.slack_posted);
        // What the alerts module sends is what the inbox accepts.
        assert_eq!(NotificationInput::from_json(&trip.to_json(), NOW), Ok(trip));
        assert_eq!(
            NotificationInput::from_alert(1, "collector", "x").source,
            "error-collector"
        );
    }
}
