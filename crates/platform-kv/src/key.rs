//! Keys: rendered from a family's pattern and validated parts, never formatted by hand.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use crate::classify;
use crate::spec::Spec;
use crate::value::KvValue;

/// KV's limit on a key's length, in bytes.
pub const MAX_KEY_BYTES: usize = 512;

/// A key family: one pattern with its policy and value type.
pub trait Family: 'static {
    const SPEC: Spec;
    /// The type stored under the family's keys.
    type Value: KvValue;
    /// Every family of the keyspace: a key of this family must not be read as one of theirs.
    fn registry() -> &'static [&'static Spec];
}

/// A key of any family whose values are `Value`: lets one bulk read span families that share a
/// value type.
pub trait TypedKey {
    type Value: KvValue;
    fn as_str(&self) -> &str;
}

impl<F: Family> TypedKey for Key<F> {
    type Value = F::Value;
    fn as_str(&self) -> &str {
        &self.raw
    }
}

/// One variable part of a key.
#[derive(Debug, Clone)]
pub enum Part<'a> {
    /// A single segment: may not contain `:`.
    Segment(Cow<'a, str>),
    /// May span segments (a feature key `project:category:feature`, an alert subject).
    Compound(Cow<'a, str>),
}

impl<'a> Part<'a> {
    pub fn segment(value: &'a str) -> Self {
        Self::Segment(Cow::Borrowed(value))
    }

    pub fn compound(value: &'a str) -> Self {
        Self::Compound(Cow::Borrowed(value))
    }

    pub fn display(value: impl fmt::Display) -> Self {
        Self::Segment(Cow::Owned(value.to_string()))
    }

    fn text(&self) -> &str {
        match self {
            Self::Segment(text) | Self::Compound(text) => text,
        }
    }
}

/// Why a key could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    EmptyPart {
        family: &'static str,
        part: String,
    },
    ControlCharacter {
        family: &'static str,
        part: String,
    },
    ColonInSegment {
        family: &'static str,
        part: String,
        value: String,
    },
    TooLong {
        family: &'static str,
        bytes: usize,
    },
    /// The parts do not fit the pattern's placeholders (a bug in a constructor).
    Arity {
        family: &'static str,
        expected: usize,
        given: usize,
    },
    /// The rendered key would be read as a key of another family (`CONFIG:SETTINGS:ALL`).
    Collides {
        family: &'static str,
        key: String,
        other: &'static str,
    },
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmptyPart { family, part } => write!(f, "{family}: part {{{part}}} is empty"),
            Self::ControlCharacter { family, part } => {
                write!(f, "{family}: part {{{part}}} contains a control character")
            }
            Self::ColonInSegment { family, part, value } => {
                write!(f, "{family}: part {{{part}}} = {value:?} may not contain ':'")
            }
            Self::TooLong { family, bytes } => {
                write!(
                    f,
                    "{family}: key is {bytes} bytes; KV allows at most {MAX_KEY_BYTES}"
                )
            }
            Self::Arity {
                family,
                expected,
                given,
            } => {
                write!(f, "{family}: pattern has {expected} part(s), {given} given")
            }
            Self::Collides { family, key, other } => {
                write!(f, "{family}: key {key:?} would belong to family {other}")
            }
        }
    }
}

impl std::error::Error for KeyError {}

/// A key of family `F`.
pub struct Key<F> {
    raw: String,
    family: PhantomData<fn() -> F>,
}

impl<F: Family> Key<F> {
    /// Renders `F`'s pattern with `parts`, validating each.
    pub fn render(parts: &[Part<'_>]) -> Result<Self, KeyError> {
        Self::checked(render(&F::SPEC, parts, false)?)
    }

    /// A key read back (from a list page, a record of keys written) as a key of `F`, if it is
    /// one: it must pass the checks [`Key::render`] makes of the keys it renders.
    pub fn parse(raw: &str) -> Result<Self, KeyError> {
        Self::checked(raw.to_owned())
    }

    /// Refuses a key KV would refuse or that would be read as a key of another family.
    fn checked(raw: String) -> Result<Self, KeyError> {
        if raw.len() > MAX_KEY_BYTES {
            return Err(KeyError::TooLong {
                family: F::SPEC.name,
                bytes: raw.len(),
            });
        }
        match classify::family_of(F::registry(), &raw) {
            Some(spec) if spec.name == F::SPEC.name => Ok(Self {
                raw,
                family: PhantomData,
            }),
            other => Err(KeyError::Collides {
                family: F::SPEC.name,
                key: raw,
                other: other.map_or("(none)", |spec| spec.name),
            }),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    pub fn spec(&self) -> &'static Spec {
        &F::SPEC
    }
}

impl<F> Clone for Key<F> {
    fn clone(&self) -> Self {
        Self {
            raw: self.raw.clone(),
            family: PhantomData,
        }
    }
}

impl<F> fmt::Debug for Key<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.raw, f)
    }
}

impl<F> fmt::Display for Key<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl<F> PartialEq for Key<F> {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

/// The start of a range of keys of family `F`: its pattern rendered up to the first placeholder
/// not given. Listing by it yields only `F`'s keys (others sharing the prefix are filtered out).
pub struct KeyPrefix<F> {
    raw: String,
    family: PhantomData<fn() -> F>,
}

impl<F: Family> KeyPrefix<F> {
    /// Every key of the family.
    pub fn all() -> Self {
        Self {
            raw: F::SPEC.literal_prefix().to_owned(),
            family: PhantomData,
        }
    }

    /// The keys whose leading placeholders equal `parts`.
    pub fn with(parts: &[Part<'_>]) -> Result<Self, KeyError> {
        Ok(Self {
            raw: render(&F::SPEC, parts, true)?,
            family: PhantomData,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }
}

impl<F> fmt::Debug for KeyPrefix<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.raw, f)
    }
}

/// Substitutes `parts` into `spec.pattern`. With `partial`, stops at the first placeholder left
/// without a part.
fn render(spec: &Spec, parts: &[Part<'_>], partial: bool) -> Result<String, KeyError> {
    let family = spec.name;
    let placeholders = placeholder_names(spec.pattern);
    if parts.len() > placeholders.len() || (!partial && parts.len() != placeholders.len()) {
        return Err(KeyError::Arity {
            family,
            expected: placeholders.len(),
            given: parts.len(),
        });
    }
    let mut out = String::with_capacity(spec.pattern.len() + 32);
    let mut rest = spec.pattern;
    let mut given = parts.iter().zip(&placeholders);
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some((part, name)) = given.next() else {
            return Ok(out);
        };
        check_part(family, name, part)?;
        out.push_str(part.text());
        let close = rest[open..].find('}').map_or(rest.len(), |i| open + i + 1);
        rest = &rest[close..];
    }
    out.push_str(rest);
    Ok(out)
}

fn check_part(family: &'static str, name: &str, part: &Part<'_>) -> Result<(), KeyError> {
    let text = part.text();
    if text.is_empty() {
        return Err(KeyError::EmptyPart {
            family,
            part: name.to_owned(),
        });
    }
    if text.chars().any(char::is_control) {
        return Err(KeyError::ControlCharacter {
            family,
            part: name.to_owned(),
        });
    }
    if matches!(part, Part::Segment(_)) && text.contains(':') {
        return Err(KeyError::ColonInSegment {
            family,
            part: name.to_owned(),
            value: text.to_owned(),
        });
    }
    Ok(())
}

/// The placeholder names of a pattern, in order.
pub fn placeholder_names(pattern: &str) -> Vec<&str> {
    pattern
        .split('{')
        .skip(1)
        .filter_map(|tail| tail.split_once('}').map(|(name, _)| name))
        .collect()
}
