//! Feature keys (`project:category:feature`) and the project they belong to.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a feature key or project id was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeatureKeyError {
    /// Not exactly three `:`-separated parts.
    PartCount { key: String, parts: usize },
    /// One of the three parts is empty (`:api:main`).
    EmptyPart { key: String, part: &'static str },
    /// A part holds a control character or whitespace.
    BadCharacter { key: String, part: &'static str },
    /// A part holds an invisible formatting character (a bidi override, a zero-width space).
    Invisible {
        key: String,
        part: &'static str,
        at: char,
    },
    /// The project holds a character that is not ASCII.
    NotAscii { key: String, at: char },
    /// Longer than [`MAX_FEATURE_KEY_BYTES`]: the KV keys derived from it would not fit.
    TooLong { bytes: usize },
}

impl fmt::Display for FeatureKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PartCount { key, parts } => write!(
                f,
                "feature key {key:?} has {parts} part(s); expected \"project:category:feature\""
            ),
            Self::EmptyPart { key, part } => write!(f, "feature key {key:?} has an empty {part}"),
            Self::BadCharacter { key, part } => write!(
                f,
                "feature key {key:?} has whitespace or a control character in its {part}"
            ),
            Self::Invisible { key, part, at } => write!(
                f,
                "feature key {key:?} has the invisible formatting character U+{:04X} in its {part}; \
                 identifiers must be printable",
                u32::from(*at)
            ),
            Self::NotAscii { key, at } => write!(
                f,
                "feature key {key:?} has {at:?} (U+{:04X}) in its project; a project is ASCII, so its \
                 upper-case slug (PROJECT:{{SLUG}}:STATUS) is the same in every language and two \
                 projects that look alike are one",
                u32::from(*at)
            ),
            Self::TooLong { bytes } => write!(
                f,
                "feature key is {bytes} bytes; at most {MAX_FEATURE_KEY_BYTES} are allowed \
                 (the KV keys built from it must stay within KV's 512)"
            ),
        }
    }
}

impl std::error::Error for FeatureKeyError {}

const PART_NAMES: [&str; 3] = ["project", "category", "feature"];

/// The longest feature key (and so project id) accepted, in UTF-8 bytes. The longest KV key built
/// from one (`BUDGET_WARN_MONTHLY:{feature}:{limit}:{threshold}`, an alert's dedup marker) adds
/// under 100 bytes, so every derived key stays within KV's 512.
pub const MAX_FEATURE_KEY_BYTES: usize = 256;

/// A validated `project:category:feature` key, case kept exactly as the consumer sent it
/// (consumers build their KV keys from the same string, so it must round-trip unchanged).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FeatureKey {
    raw: String,
    /// Byte offsets of the two separators.
    colons: (usize, usize),
}

impl FeatureKey {
    pub fn parse(raw: &str) -> Result<Self, FeatureKeyError> {
        check_length(raw)?;
        let parts: Vec<&str> = raw.split(':').collect();
        if parts.len() != 3 {
            return Err(FeatureKeyError::PartCount {
                key: raw.to_owned(),
                parts: parts.len(),
            });
        }
        for (part, name) in parts.iter().zip(PART_NAMES) {
            check_part(raw, part, name)?;
        }
        check_ascii(raw, parts[0])?;
        let first = parts[0].len();
        let second = first + 1 + parts[1].len();
        Ok(Self {
            raw: raw.to_owned(),
            colons: (first, second),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    pub fn project(&self) -> ProjectId {
        ProjectId(self.raw[..self.colons.0].to_owned())
    }

    pub fn category(&self) -> &str {
        &self.raw[self.colons.0 + 1..self.colons.1]
    }

    pub fn feature(&self) -> &str {
        &self.raw[self.colons.1 + 1..]
    }
}

fn check_length(raw: &str) -> Result<(), FeatureKeyError> {
    if raw.len() > MAX_FEATURE_KEY_BYTES {
        return Err(FeatureKeyError::TooLong { bytes: raw.len() });
    }
    Ok(())
}

/// Unicode's format characters (category Cf) that reach identifiers in practice: invisible, yet
/// they make two keys that look alike differ, or reorder what a reader sees (U+202E).
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0000}'..='\u{E007F}'
    )
}

fn check_part(key: &str, part: &str, name: &'static str) -> Result<(), FeatureKeyError> {
    if part.is_empty() {
        return Err(FeatureKeyError::EmptyPart {
            key: key.to_owned(),
            part: name,
        });
    }
    if part.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(FeatureKeyError::BadCharacter {
            key: key.to_owned(),
            part: name,
        });
    }
    if let Some(at) = part.chars().find(|c| is_invisible(*c)) {
        return Err(FeatureKeyError::Invisible {
            key: key.to_owned(),
            part: name,
            at,
        });
    }
    Ok(())
}

/// Projects are ASCII: upper-cased, they name the consumers' `PROJECT:{SLUG}:STATUS`, and only
/// ASCII upper-cases alike in Rust, JavaScript and SQLite (whose `upper()` is ASCII only), so
/// two ids equal but for case are found wherever they are compared.
fn check_ascii(key: &str, project: &str) -> Result<(), FeatureKeyError> {
    match project.chars().find(|c| !c.is_ascii()) {
        Some(at) => Err(FeatureKeyError::NotAscii {
            key: key.to_owned(),
            at,
        }),
        None => Ok(()),
    }
}

impl fmt::Display for FeatureKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl Serialize for FeatureKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.raw)
    }
}

impl<'de> Deserialize<'de> for FeatureKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// The project part of a feature key (`my-app` in `my-app:scanner:ocr`), as consumers spell it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct ProjectId(String);

impl ProjectId {
    pub fn parse(raw: &str) -> Result<Self, FeatureKeyError> {
        check_length(raw)?;
        if raw.contains(':') {
            return Err(FeatureKeyError::BadCharacter {
                key: raw.to_owned(),
                part: "project",
            });
        }
        check_part(raw, raw, "project")?;
        check_ascii(raw, raw)?;
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The upper-case slug of the middleware contract (`PROJECT:MY-APP:STATUS`). The id is ASCII,
    /// so this is the one spelling of every id equal to it but for case.
    pub fn upper_slug(&self) -> String {
        self.0.to_ascii_uppercase()
    }
}

impl fmt::Display for ProjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ProjectId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_three_parts_and_keeps_case() {
        let key = FeatureKey::parse("Scout:ocr:Process").unwrap();
        assert_eq!(key.project().as_str(), "Scout");
        assert_eq!(key.category(), "ocr");
        assert_eq!(key.feature(), "Process");
        assert_eq!(key.to_string(), "Scout:ocr:Process");
        assert_eq!(key.project().upper_slug(), "SCOUT");
    }

    #[test]
    fn refuses_wrong_part_counts_and_empty_parts() {
        assert_eq!(
            FeatureKey::parse("a:b"),
            Err(FeatureKeyError::PartCount {
                key: "a:b".into(),
                parts: 2
            })
        );
        assert!(matches!(
            FeatureKey::parse("a:b:c:d"),
            Err(FeatureKeyError::PartCount { parts: 4, .. })
        ));
        assert_eq!(
            FeatureKey::parse(":api:main"),
            Err(FeatureKeyError::EmptyPart {
                key: ":api:main".into(),
                part: "project"
            })
        );
        assert!(matches!(
            FeatureKey::parse("a:b:"),
            Err(FeatureKeyError::EmptyPart { part: "feature", .. })
        ));
        assert!(matches!(
            FeatureKey::parse("a:b c:d"),
            Err(FeatureKeyError::BadCharacter { part: "category", .. })
        ));
    }

    #[test]
    fn error_messages_name_the_problem() {
        let err = FeatureKey::parse("a:b").unwrap_err().to_string();
        assert!(
            err.contains("2 part(s)") && err.contains("project:category:feature"),
            "{err}"
        );
    }

    #[test]
    fn serde_round_trips_and_validates() {
        let key: FeatureKey = serde_json::from_str("\"a:b:c\"").unwrap();
        assert_eq!(serde_json::to_string(&key).unwrap(), "\"a:b:c\"");
        assert!(serde_json::from_str::<FeatureKey>("\"a:b\"").is_err());
        assert!(ProjectId::parse("a:b").is_err());
    }

    #[test]
    fn refuses_keys_too_long_for_the_kv_keys_derived_from_them() {
        let longest = format!("p:c:{}", "f".repeat(MAX_FEATURE_KEY_BYTES - 4));
        assert!(FeatureKey::parse(&longest).is_ok());
        let longer = format!("{longest}f");
        let err = FeatureKey::parse(&longer).unwrap_err();
        assert_eq!(err, FeatureKeyError::TooLong { bytes: 257 });
        assert!(err.to_string().contains("at most 256"), "{err}");
        assert!(ProjectId::parse(&"p".repeat(257)).is_err());
    }

    #[test]
    fn refuses_invisible_formatting_characters() {
        for invisible in [
            '\u{202E}',
            '\u{200B}',
            '\u{2066}',
            '\u{FEFF}',
            '\u{00AD}',
            '\u{E0041}',
        ] {
            let raw = format!("app:api:se{invisible}arch");
            let err = FeatureKey::parse(&raw).unwrap_err();
            assert!(
                matches!(err, FeatureKeyError::Invisible { part: "feature", at, .. } if at == invisible),
                "{raw:?}: {err:?}"
            );
            assert!(
                err.to_string()
                    .contains(&format!("U+{:04X}", u32::from(invisible))),
                "{err}"
            );
            assert!(ProjectId::parse(&format!("a{invisible}")).is_err());
        }
        assert!(
            FeatureKey::parse("shop:café:naïve").is_ok(),
            "printable non-ASCII is fine in a category and a feature"
        );
    }

    #[test]
    fn a_project_is_ascii_so_equal_but_for_case_means_equal_upper_slugs() {
        // Unicode would upper-case both spellings to STRASSE or CAFÉ; SQLite's upper() would not.
        for raw in ["café", "straße", "ǅemal", "shop\u{0430}"] {
            let err = ProjectId::parse(raw).unwrap_err();
            assert!(
                matches!(err, FeatureKeyError::NotAscii { .. }),
                "{raw:?}: {err:?}"
            );
            assert!(err.to_string().contains("a project is ASCII"), "{err}");
            let key = FeatureKey::parse(&format!("{raw}:api:main")).unwrap_err();
            assert!(key.to_string().contains("in its project"), "{key}");
        }
        let (lower, upper) = (
            ProjectId::parse("casey").unwrap(),
            ProjectId::parse("CASEY").unwrap(),
        );
        assert_eq!(lower.upper_slug(), upper.upper_slug());
    }
}
