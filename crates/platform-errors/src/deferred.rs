//! Counts the collector could not record in the invocation that captured them: the tail runtime
//! never delivers an event twice, so what D1 refused (or what is past one invocation's write
//! budget) waits on the collector's own queue, as aggregates, until a later run records it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::capture::{Aggregate, ScriptInfo};

/// Fingerprints one invocation records: each costs a D1 statement and, at worst, a few more
/// for its issue, well under the 1,000 queries an invocation may make.
pub const MAX_GROUPS_PER_RUN: usize = 100;

/// Aggregates per queue message: one is at most ~8 KB of JSON (sample, context, ten log lines
/// of 500 characters), a message at most 128 KB.
pub const GROUPS_PER_MESSAGE: usize = 8;

/// One queue message: aggregates and where their scripts' errors go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deferred {
    pub groups: BTreeMap<String, Aggregate>,
    pub scripts: BTreeMap<String, ScriptInfo>,
}

impl Deferred {
    /// Reads a message; `Err` says why it is not one.
    pub fn parse(value: &serde_json::Value) -> Result<Self, String> {
        let deferred: Self =
            serde_json::from_value(value.clone()).map_err(|e| format!("not deferred error counts: {e}"))?;
        if let Some((key, group)) = deferred
            .groups
            .iter()
            .find(|(key, group)| **key != group.last.fingerprint)
        {
            return Err(format!(
                "group {key:?} holds occurrences of fingerprint {:?}",
                group.last.fingerprint
            ));
        }
        Ok(deferred)
    }
}

/// The first `max` groups, and the rest.
pub fn split(
    mut groups: BTreeMap<String, Aggregate>,
    max: usize,
) -> (BTreeMap<String, Aggregate>, BTreeMap<String, Aggregate>) {
    let rest = match groups.keys().nth(max).cloned() {
        Some(first_later) => groups.split_off(&first_later),
        None => BTreeMap::new(),
    };
    (groups, rest)
}

/// `groups` as queue messages of at most [`GROUPS_PER_MESSAGE`] aggregates, each with the
/// mappings of its own scripts.
pub fn messages(
    groups: BTreeMap<String, Aggregate>,
    scripts: &BTreeMap<String, ScriptInfo>,
) -> Vec<Deferred> {
    let mut out: Vec<Deferred> = Vec::new();
    for (fingerprint, group) in groups {
        if out.last().is_none_or(|m| m.groups.len() == GROUPS_PER_MESSAGE) {
            out.push(Deferred {
                groups: BTreeMap::new(),
                scripts: BTreeMap::new(),
            });
        }
        if let Some(message) = out.last_mut() {
            if let Some(info) = scripts.get(&group.last.script) {
                message.scripts.insert(group.last.script.clone(), info.clone());
            }
            message.groups.insert(fingerprint, group);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{aggregate, capture};
    use crate::patterns::Patterns;
    use crate::TailEvent;
    use serde_json::json;

    fn groups(n: usize) -> BTreeMap<String, Aggregate> {
        let logs: Vec<_> = (0..n)
            .map(|i| {
                let word: String = [i / 26, i % 26]
                    .iter()
                    .map(|d| char::from(b'a' + (*d % 26) as u8))
                    .collect();
                json!({"level": "error", "message": [format!("{word} {} failed", "x".repeat(480))]})
            })
            .collect();
        let event =
            TailEvent::from_json(&json!({"scriptName": "shop", "outcome": "ok", "logs": logs})).unwrap();
        aggregate(capture(&event, "shop", &Patterns::default(), 7))
    }

    #[test]
    fn groups_past_the_budget_become_messages_that_read_back() {
        let all = groups(20);
        assert_eq!(all.len(), 20);
        let (now, later) = split(all.clone(), 5);
        assert_eq!((now.len(), later.len()), (5, 15));
        assert!(now.keys().all(|k| later.keys().all(|l| k < l)));
        let scripts = BTreeMap::from([("shop".to_owned(), ScriptInfo::unmapped(Some("acme/shop".into())))]);
        let sent = messages(later.clone(), &scripts);
        assert_eq!(sent.iter().map(|m| m.groups.len()).collect::<Vec<_>>(), [8, 7]);
        let mut read = BTreeMap::new();
        for message in &sent {
            let value = serde_json::to_value(message).unwrap();
            assert!(
                value.to_string().len() < 128_000,
                "{} bytes",
                value.to_string().len()
            );
            let back = Deferred::parse(&value).unwrap();
            assert_eq!(back.scripts, scripts);
            read.extend(back.groups);
        }
        assert_eq!(read, later);
        let (all_now, none) = split(all, MAX_GROUPS_PER_RUN);
        assert_eq!((all_now.len(), none.len()), (20, 0));
    }

    #[test]
    fn messages_that_are_not_deferred_counts_are_refused_with_a_reason() {
        assert!(Deferred::parse(&json!({"groups": 1}))
            .unwrap_err()
            .contains("not deferred"));
        let mut message = serde_json::to_value(&messages(groups(1), &BTreeMap::new())[0]).unwrap();
        let key = message["groups"]
            .as_object()
            .unwrap()
            .keys()
            .next()
            .unwrap()
            .clone();
        let group = message["groups"][&key].take();
        message["groups"] = json!({ "other": group });
        assert!(Deferred::parse(&message)
            .unwrap_err()
            .contains("holds occurrences"));
    }
}
