//! What an admin may do from the dashboard, as a form names it (`action` and `target`): each
//! validated where it enters, described for the confirmation step, and turned into the call to
//! the admin route of the worker that owns the state. The reason every call records names the
//! person, so the worker's own record says who did it.

use platform_core::{FeatureKey, ProjectId};
use serde_json::{json, Value};

/// The service bindings the dashboard reads and acts through.
pub const USAGE: &str = "USAGE";
pub const ERRORS: &str = "ERRORS";
pub const SENTINEL: &str = "SENTINEL";
pub const PATTERNS: &str = "PATTERNS";
pub const CONFIG: &str = "CONFIG";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    DisableFeature(FeatureKey),
    EnableFeature(FeatureKey),
    PauseProject(ProjectId),
    ResumeProject(ProjectId),
    GlobalStop,
    GlobalRelease,
    MuteError(String),
    ResolveError(String),
    ApprovePattern(String),
    RejectPattern(String),
}

/// A call to a bound worker's admin route.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub service: &'static str,
    pub path: String,
    pub body: Value,
}

const NAMES: &[&str] = &[
    "disable-feature",
    "enable-feature",
    "pause-project",
    "resume-project",
    "global-stop",
    "global-release",
    "mute-error",
    "resolve-error",
    "approve-pattern",
    "reject-pattern",
];

impl Action {
    /// The action a form names; the error says which field is wrong and why.
    pub fn parse(name: &str, target: &str) -> Result<Self, String> {
        let feature = || FeatureKey::parse(target).map_err(|e| format!("target: {e}"));
        let project = || ProjectId::parse(target).map_err(|e| format!("target: {e}"));
        let fingerprint = || {
            if target.len() == 32 && target.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                Ok(target.to_owned())
            } else {
                Err("target: an error fingerprint is 32 lower-case hex characters".to_owned())
            }
        };
        let pattern = || {
            let hex = target.strip_prefix("pat-").unwrap_or_default();
            if hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                Ok(target.to_owned())
            } else {
                Err("target: a pattern id is pat- and 16 hexadecimal characters".to_owned())
            }
        };
        Ok(match name {
            "disable-feature" => Self::DisableFeature(feature()?),
            "enable-feature" => Self::EnableFeature(feature()?),
            "pause-project" => Self::PauseProject(project()?),
            "resume-project" => Self::ResumeProject(project()?),
            "global-stop" => Self::GlobalStop,
            "global-release" => Self::GlobalRelease,
            "mute-error" => Self::MuteError(fingerprint()?),
            "resolve-error" => Self::ResolveError(fingerprint()?),
            "approve-pattern" => Self::ApprovePattern(pattern()?),
            "reject-pattern" => Self::RejectPattern(pattern()?),
            other => return Err(format!("action: {other:?} is not one of {}", NAMES.join(", "))),
        })
    }

    pub fn name(&self) -> &'static str {
        NAMES[match self {
            Self::DisableFeature(_) => 0,
            Self::EnableFeature(_) => 1,
            Self::PauseProject(_) => 2,
            Self::ResumeProject(_) => 3,
            Self::GlobalStop => 4,
            Self::GlobalRelease => 5,
            Self::MuteError(_) => 6,
            Self::ResolveError(_) => 7,
            Self::ApprovePattern(_) => 8,
            Self::RejectPattern(_) => 9,
        }]
    }

    /// What the form's `target` field holds.
    pub fn target(&self) -> String {
        match self {
            Self::DisableFeature(f) | Self::EnableFeature(f) => f.to_string(),
            Self::PauseProject(p) | Self::ResumeProject(p) => p.as_str().to_owned(),
            Self::GlobalStop | Self::GlobalRelease => String::new(),
            Self::MuteError(f) | Self::ResolveError(f) => f.clone(),
            Self::ApprovePattern(id) | Self::RejectPattern(id) => id.clone(),
        }
    }

    /// The question the confirmation step asks, and what follows.
    pub fn question(&self) -> (String, &'static str) {
        let target = self.target();
        match self {
            Self::DisableFeature(_) => (
                format!("Disable feature {target}?"),
                "Its breaker opens at once: the application's calls of this feature are refused until an admin enables it. It never resets on its own.",
            ),
            Self::EnableFeature(_) => (
                format!("Enable feature {target}?"),
                "Its breaker closes; the enable holds until the end of this UTC day, even over budget.",
            ),
            Self::PauseProject(_) => (
                format!("Pause project {target}?"),
                "Every feature of the project is refused until an admin resumes it.",
            ),
            Self::ResumeProject(_) => (
                format!("Resume project {target}?"),
                "The pause is lifted; the resume holds until the end of this UTC day.",
            ),
            Self::GlobalStop => (
                "Stop every application (global stop)?".to_owned(),
                "Every guarded feature of every project is refused until an admin releases the stop.",
            ),
            Self::GlobalRelease => (
                "Release the global stop?".to_owned(),
                "Applications run again, within their budgets and breakers.",
            ),
            Self::MuteError(_) => (
                format!("Mute error {target}?"),
                "It stays recorded, but files no issue and sends no alert until unmuted; its GitHub issue is labelled cf:muted.",
            ),
            Self::ResolveError(_) => (
                format!("Resolve error {target}?"),
                "Its GitHub issue is closed; the next occurrence reopens it as a regression.",
            ),
            Self::ApprovePattern(_) => (
                format!("Approve pattern {target}?"),
                "Errors it matches are treated as transient: they stop filing issues.",
            ),
            Self::RejectPattern(_) => (
                format!("Reject pattern {target}?"),
                "It is remembered as rejected and never suggested again.",
            ),
        }
    }

    /// The page the dashboard returns to after the action.
    pub fn page(&self) -> &'static str {
        match self {
            Self::MuteError(_) | Self::ResolveError(_) => "errors",
            Self::ApprovePattern(_) | Self::RejectPattern(_) => "patterns",
            _ => "budgets",
        }
    }

    /// The admin call that carries out the action for `person`.
    pub fn call(&self, person: &str) -> Call {
        let reason = format!("by {person} from the dashboard");
        let (service, path, body) = match self {
            Self::DisableFeature(f) => (
                USAGE,
                format!("/features/{}/disable", segment(f.as_str())),
                json!({"reason": reason}),
            ),
            Self::EnableFeature(f) => (
                USAGE,
                format!("/features/{}/enable", segment(f.as_str())),
                json!({}),
            ),
            Self::PauseProject(p) => (
                USAGE,
                format!("/projects/{}/pause", segment(p.as_str())),
                json!({"reason": reason}),
            ),
            Self::ResumeProject(p) => (
                USAGE,
                format!("/projects/{}/resume", segment(p.as_str())),
                json!({}),
            ),
            Self::GlobalStop => (
                USAGE,
                "/global-stop".to_owned(),
                json!({"enabled": true, "reason": reason}),
            ),
            Self::GlobalRelease => (
                USAGE,
                "/global-stop".to_owned(),
                json!({"enabled": false, "reason": reason}),
            ),
            Self::MuteError(f) => (ERRORS, format!("/errors/{f}/mute"), json!({})),
            Self::ResolveError(f) => (ERRORS, format!("/errors/{f}/resolve"), json!({})),
            Self::ApprovePattern(id) => (PATTERNS, format!("/patterns/{id}/approve"), json!({"by": person})),
            Self::RejectPattern(id) => (
                PATTERNS,
                format!("/patterns/{id}/reject"),
                json!({"by": person, "reason": reason}),
            ),
        };
        Call { service, path, body }
    }
}

/// A path segment, percent-encoded but for unreserved characters and `:`.
pub fn segment(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b':') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_validated_where_they_enter() {
        let disable = Action::parse("disable-feature", "shop:api:checkout").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            disable.call("ann"),
            Call {
                service: USAGE,
                path: "/features/shop:api:checkout/disable".into(),
                body: json!({"reason": "by ann from the dashboard"}),
            }
        );
        assert_eq!(Action::parse(disable.name(), &disable.target()), Ok(disable));
        for (name, target, field) in [
            ("disable-feature", "shop:api", "target"),
            ("pause-project", "a:b", "target"),
            ("mute-error", "ABC", "target"),
            ("approve-pattern", "7", "target"),
            ("reject-pattern", "pat-../../x", "target"),
            ("drop-tables", "", "action"),
        ] {
            let error = Action::parse(name, target).err().unwrap_or_default();
            assert!(error.starts_with(field), "{name} {target}: {error}");
        }
        assert_eq!(segment("a b/c:d"), "a%20b%2Fc:d");
        assert_eq!(
            Action::parse("approve-pattern", "pat-0123456789abcdef").map(|a| a.call("bob").path),
            Ok("/patterns/pat-0123456789abcdef/approve".to_owned())
        );
    }
}
