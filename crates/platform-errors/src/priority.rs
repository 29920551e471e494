//! P0 (page someone) to P4 (read in the digest), and the labels an issue carries.

use crate::event::ErrorKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    P0,
    P1,
    P2,
    P3,
    P4,
}

/// Soft errors seen more often than this are P2 instead of P3.
pub const SOFT_ERROR_ESCALATION: u64 = 5;

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::P0 => "P0",
            Self::P1 => "P1",
            Self::P2 => "P2",
            Self::P3 => "P3",
            Self::P4 => "P4",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::P0, Self::P1, Self::P2, Self::P3, Self::P4]
            .into_iter()
            .find(|p| p.as_str() == raw)
    }

    /// The `cf:priority:*` label.
    pub fn label(self) -> &'static str {
        match self {
            Self::P0 => "cf:priority:p0",
            Self::P1 => "cf:priority:p1",
            Self::P2 => "cf:priority:p2",
            Self::P3 => "cf:priority:p3",
            Self::P4 => "cf:priority:p4",
        }
    }

    /// The priority of an error of `kind` from a project of `tier` (None: unmapped) after
    /// `occurrences`.
    pub fn of(kind: ErrorKind, tier: Option<u8>, occurrences: u64) -> Self {
        match kind {
            ErrorKind::CpuLimit | ErrorKind::MemoryLimit => Self::P0,
            ErrorKind::ScriptNotFound => Self::P1,
            ErrorKind::Exception => match tier {
                Some(0) => Self::P0,
                Some(1) => Self::P1,
                _ => Self::P2,
            },
            ErrorKind::Canceled | ErrorKind::UnknownOutcome => Self::P2,
            ErrorKind::StreamDisconnected => Self::P3,
            ErrorKind::SoftError if occurrences > SOFT_ERROR_ESCALATION => Self::P2,
            ErrorKind::SoftError => Self::P3,
            ErrorKind::Warning => Self::P4,
        }
    }
}

/// The labels of a new issue.
pub fn labels(kind: ErrorKind, priority: Priority, transient: bool) -> Vec<String> {
    let mut labels = vec![
        "cf:error:auto-generated".to_owned(),
        format!("cf:error:{}", kind.as_str()),
        priority.label().to_owned(),
    ];
    if transient {
        labels.push(TRANSIENT_LABEL.to_owned());
    }
    labels
}

pub const TRANSIENT_LABEL: &str = "cf:transient";
pub const REGRESSION_LABEL: &str = "cf:regression";
/// Labels a person sets to keep an issue closed for good.
pub const SILENCING_LABELS: [&str; 2] = ["cf:muted", "cf:wont-fix"];
pub const MUTED_LABEL: &str = "cf:muted";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_follow_kind_tier_and_repetition() {
        assert_eq!(Priority::of(ErrorKind::CpuLimit, Some(2), 1), Priority::P0);
        assert_eq!(Priority::of(ErrorKind::Exception, Some(0), 1), Priority::P0);
        assert_eq!(Priority::of(ErrorKind::Exception, Some(1), 1), Priority::P1);
        assert_eq!(Priority::of(ErrorKind::Exception, None, 1), Priority::P2);
        assert_eq!(Priority::of(ErrorKind::SoftError, Some(0), 5), Priority::P3);
        assert_eq!(Priority::of(ErrorKind::SoftError, Some(0), 6), Priority::P2);
        assert_eq!(Priority::of(ErrorKind::Warning, Some(0), 100), Priority::P4);
        assert!(Priority::P0 < Priority::P3);
        assert_eq!(Priority::parse("P3"), Some(Priority::P3));
    }

    #[test]
    fn labels_name_kind_priority_and_transience() {
        assert_eq!(
            labels(ErrorKind::SoftError, Priority::P3, true),
            [
                "cf:error:auto-generated",
                "cf:error:soft-error",
                "cf:priority:p3",
                "cf:transient"
            ]
        );
    }
}
