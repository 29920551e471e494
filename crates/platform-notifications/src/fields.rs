//! Reading a JSON body field by field, so every refusal names the field it is about
//! (`audience.people[1]: ...`) instead of failing on the first type mismatch serde finds.

use std::fmt;

use serde_json::{Map, Value};

/// A refused field: its path in the document and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: String,
    pub reason: String,
}

impl Invalid {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

impl std::error::Error for Invalid {}

/// The fields of one JSON object, at `path` in its document.
pub struct Fields<'a> {
    path: String,
    object: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    /// `value` as an object; `path` names it in errors (`body` for the whole document).
    pub fn of(value: &'a Value, path: &str) -> Result<Self, Invalid> {
        value
            .as_object()
            .map(|object| Self {
                path: path.to_owned(),
                object,
            })
            .ok_or_else(|| Invalid::new(path, "must be a JSON object"))
    }

    /// The path of field `name`.
    pub fn path(&self, name: &str) -> String {
        if self.path == "body" {
            name.to_owned()
        } else {
            format!("{}.{name}", self.path)
        }
    }

    /// Refuses any field not in `known`: a misspelt field is an error, not silently ignored.
    pub fn only(&self, known: &[&str]) -> Result<(), Invalid> {
        match self.object.keys().find(|key| !known.contains(&key.as_str())) {
            Some(unknown) => Err(Invalid::new(
                self.path(unknown),
                format!("is not a known field (known: {})", known.join(", ")),
            )),
            None => Ok(()),
        }
    }

    /// The field, `None` when absent or `null`.
    pub fn get(&self, name: &str) -> Option<&'a Value> {
        self.object.get(name).filter(|value| !value.is_null())
    }

    pub fn required(&self, name: &str) -> Result<&'a Value, Invalid> {
        self.get(name)
            .ok_or_else(|| Invalid::new(self.path(name), "is required"))
    }

    /// A string of 1 to `max` characters, trimmed.
    pub fn text(&self, name: &str, max: usize) -> Result<String, Invalid> {
        text_value(self.required(name)?, &self.path(name), max)
    }

    pub fn optional_text(&self, name: &str, max: usize) -> Result<Option<String>, Invalid> {
        self.get(name)
            .map(|value| text_value(value, &self.path(name), max))
            .transpose()
    }

    pub fn optional_bool(&self, name: &str) -> Result<Option<bool>, Invalid> {
        self.get(name)
            .map(|value| {
                value
                    .as_bool()
                    .ok_or_else(|| Invalid::new(self.path(name), "must be true or false"))
            })
            .transpose()
    }

    /// An array of at most `max` items, each read by `item` with its indexed path.
    pub fn list<T>(
        &self,
        name: &str,
        max: usize,
        item: impl Fn(&Value, &str) -> Result<T, Invalid>,
    ) -> Result<Option<Vec<T>>, Invalid> {
        let Some(value) = self.get(name) else {
            return Ok(None);
        };
        let path = self.path(name);
        let items = value
            .as_array()
            .ok_or_else(|| Invalid::new(&path, "must be an array"))?;
        if items.len() > max {
            return Err(Invalid::new(&path, format!("holds at most {max} items")));
        }
        items
            .iter()
            .enumerate()
            .map(|(i, value)| item(value, &format!("{path}[{i}]")))
            .collect::<Result<Vec<T>, Invalid>>()
            .map(Some)
    }
}

/// A non-empty string of at most `max` characters, trimmed.
pub fn text_value(value: &Value, path: &str, max: usize) -> Result<String, Invalid> {
    let text = value
        .as_str()
        .ok_or_else(|| Invalid::new(path, "must be a string"))?
        .trim();
    if text.is_empty() {
        return Err(Invalid::new(path, "must not be empty"));
    }
    if text.chars().count() > max {
        return Err(Invalid::new(path, format!("is longer than {max} characters")));
    }
    Ok(text.to_owned())
}

/// A name: 1 to `max` of lowercase letters, digits, `.`, `_` and `-`, starting with a letter or
/// digit. User ids, roles and sources are names, so each is safe as a KV key segment.
pub fn name_value(value: &Value, path: &str, max: usize) -> Result<String, Invalid> {
    let text = value
        .as_str()
        .ok_or_else(|| Invalid::new(path, "must be a string"))?;
    check_name(text, max).map_err(|reason| Invalid::new(path, reason))?;
    Ok(text.to_owned())
}

/// Why `text` is not a name of at most `max` characters.
pub fn check_name(text: &str, max: usize) -> Result<(), String> {
    let shape = format!(
        "must be 1 to {max} lowercase letters, digits, '.', '_' or '-', starting with a letter or digit"
    );
    let mut chars = text.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    if first_ok && rest_ok && text.len() <= max {
        Ok(())
    } else {
        Err(shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refusals_name_the_field_and_its_place() {
        let body = json!({"title": "", "audience": {"people": ["ok", "Not Ok"]}, "extra": 1});
        let fields = Fields::of(&body, "body").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            fields.text("title", 10).map_err(|e| e.to_string()),
            Err("title: must not be empty".to_owned())
        );
        assert_eq!(
            fields.only(&["title", "audience"]).map_err(|e| e.field),
            Err("extra".to_owned())
        );
        let audience = Fields::of(
            fields.get("audience").unwrap_or(&Value::Null),
            &fields.path("audience"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let people = audience.list("people", 5, |v, p| name_value(v, p, 64));
        assert_eq!(people.map_err(|e| e.field), Err("audience.people[1]".to_owned()));
        assert!(Fields::of(&json!([1]), "body").is_err());
    }

    #[test]
    fn names_are_key_safe() {
        assert!(check_name("alice", 64).is_ok());
        assert!(check_name("ops-team.1", 64).is_ok());
        for bad in ["", "-x", "Alice", "a:b", "a b", "é"] {
            assert!(check_name(bad, 64).is_err(), "{bad:?}");
        }
        assert!(check_name("abcd", 3).is_err());
    }
}
