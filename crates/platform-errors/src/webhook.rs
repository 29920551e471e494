//! GitHub's `issues` webhook: what a person did to an issue on GitHub (closed, reopened, muted)
//! becomes the fingerprint's state at once, instead of at its next milestone.

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::priority::SILENCING_LABELS;

/// Whether `signature` (the `X-Hub-Signature-256` header, `sha256=<hex>`) is the HMAC-SHA256 of
/// `body` under `secret`. Compared in constant time.
pub fn signature_valid(secret: &str, body: &[u8], signature: &str) -> bool {
    let Some(hex) = signature.strip_prefix("sha256=") else {
        return false;
    };
    let Some(expected) = decode_hex(hex) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The state an issue event asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueChange {
    /// `owner/name`.
    pub repository: String,
    pub number: u64,
    /// `Some(true)` when the issue was closed, `Some(false)` when reopened.
    pub resolved: Option<bool>,
    /// Whether the issue carries a silencing label after the event, when one was added or removed.
    pub muted: Option<bool>,
}

/// Reads an `issues` event. `Ok(None)` for actions that change nothing the collector keeps
/// (edited, assigned, ...); `Err` says what is missing from a payload that should have it.
pub fn issue_change(payload: &Value) -> Result<Option<IssueChange>, String> {
    let action = payload
        .get("action")
        .and_then(Value::as_str)
        .ok_or("`action` is missing")?;
    let (resolved, labels_changed) = match action {
        "closed" => (Some(true), false),
        "reopened" => (Some(false), false),
        "labeled" | "unlabeled" => (None, true),
        _ => return Ok(None),
    };
    let repository = payload
        .pointer("/repository/full_name")
        .and_then(Value::as_str)
        .filter(|name| name.split('/').count() == 2)
        .ok_or("`repository.full_name` is missing")?;
    let issue = payload.get("issue").ok_or("`issue` is missing")?;
    let number = issue
        .get("number")
        .and_then(Value::as_u64)
        .ok_or("`issue.number` is missing")?;
    // Only a silencing label changes muting: a fingerprint an operator muted stays muted when
    // someone adds `bug`, even if the issue never got its `cf:muted` label.
    let silencing = payload
        .pointer("/label/name")
        .and_then(Value::as_str)
        .is_some_and(|name| SILENCING_LABELS.contains(&name));
    let muted = if labels_changed && silencing {
        let labels = issue
            .get("labels")
            .and_then(Value::as_array)
            .ok_or("`issue.labels` is missing")?;
        Some(labels.iter().any(|label| {
            let name = label.get("name").and_then(Value::as_str).unwrap_or_default();
            SILENCING_LABELS.contains(&name)
        }))
    } else {
        None
    };
    if resolved.is_none() && muted.is_none() {
        return Ok(None);
    }
    Ok(Some(IssueChange {
        repository: repository.to_owned(),
        number,
        resolved,
        muted,
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    // The example of GitHub's documentation ("Validating webhook deliveries").
    const DOC_SECRET: &str = "It's a Secret to Everybody";
    const DOC_BODY: &str = "Hello, World!";
    const DOC_SIGNATURE: &str = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    #[test]
    fn signatures_are_checked_as_github_computes_them() {
        assert!(signature_valid(DOC_SECRET, DOC_BODY.as_bytes(), DOC_SIGNATURE));
        assert!(!signature_valid(DOC_SECRET, b"Hello, World?", DOC_SIGNATURE));
        assert!(!signature_valid(
            "another secret",
            DOC_BODY.as_bytes(),
            DOC_SIGNATURE
        ));
        assert!(!signature_valid(
            DOC_SECRET,
            DOC_BODY.as_bytes(),
            &DOC_SIGNATURE[7..]
        ));
        assert!(!signature_valid(DOC_SECRET, DOC_BODY.as_bytes(), "sha256=zz"));
        assert!(!signature_valid(DOC_SECRET, DOC_BODY.as_bytes(), ""));
    }

    fn event(action: &str, labels: &[&str]) -> Value {
        json!({
            "action": action,
            "issue": { "number": 7, "labels": labels.iter().map(|n| json!({ "name": n })).collect::<Vec<_>>() },
            "repository": { "full_name": "acme/shop" },
        })
    }

    fn labelled(action: &str, label: &str, labels: &[&str]) -> Option<bool> {
        let mut payload = event(action, labels);
        payload["label"] = json!({ "name": label });
        issue_change(&payload).ok().flatten().and_then(|c| c.muted)
    }

    #[test]
    fn closing_and_reopening_change_the_status_only() {
        let closed = issue_change(&event("closed", &["cf:muted"])).ok().flatten();
        assert_eq!(
            closed,
            Some(IssueChange {
                repository: "acme/shop".into(),
                number: 7,
                resolved: Some(true),
                muted: None,
            })
        );
        let reopened = issue_change(&event("reopened", &[])).ok().flatten();
        assert_eq!(reopened.and_then(|c| c.resolved), Some(false));
    }

    #[test]
    fn silencing_labels_mute_while_one_remains_and_other_labels_change_nothing() {
        assert_eq!(
            labelled("labeled", "cf:wont-fix", &["bug", "cf:wont-fix"]),
            Some(true)
        );
        assert_eq!(labelled("labeled", "cf:muted", &["cf:muted"]), Some(true));
        assert_eq!(labelled("unlabeled", "cf:muted", &["cf:wont-fix"]), Some(true));
        assert_eq!(labelled("unlabeled", "cf:muted", &["bug"]), Some(false));
        assert_eq!(labelled("labeled", "bug", &["bug"]), None);
        assert_eq!(labelled("unlabeled", "bug", &[]), None);
    }

    #[test]
    fn other_actions_are_ignored_and_broken_payloads_explained() {
        assert_eq!(issue_change(&event("edited", &[])), Ok(None));
        assert_eq!(
            issue_change(&json!({ "action": "closed", "issue": { "number": 1 } })),
            Err("`repository.full_name` is missing".to_owned())
        );
        assert_eq!(issue_change(&json!({})), Err("`action` is missing".to_owned()));
    }
}
