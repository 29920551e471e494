//! The stored errors discovery learns from and backtests against: one per fingerprint, as the
//! error collector recorded it.

use platform_errors::transient;

/// One fingerprint of `error_fingerprints`, as discovery reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredError {
    pub fingerprint: String,
    pub script: String,
    pub exception: Option<String>,
    /// The category the collector gave it (static table or approved pattern).
    pub category: Option<String>,
    /// The normalised message (placeholders for variable parts).
    pub message: String,
    /// The last message as seen (redacted): what rules are matched against, as at runtime.
    pub sample: String,
    pub occurrences: u64,
    pub last_seen: u64,
    /// Open and not muted: still filed as an issue of its own.
    pub open: bool,
}

impl StoredError {
    /// A class that is never transient (TypeError, ReferenceError, SyntaxError): a rule matching
    /// it would hide a bug.
    pub fn never_transient(&self) -> bool {
        transient::never_transient(&self.sample, self.exception.as_deref())
    }

    /// What discovery mines: open, unclassified, recurring, and not a programming error.
    pub fn is_candidate(&self, min_occurrences: u64) -> bool {
        self.open && self.category.is_none() && self.occurrences >= min_occurrences && !self.never_transient()
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::StoredError;

    /// A stored error; `exception` may be empty for a soft error.
    pub fn error(fingerprint: &str, exception: &str, sample: &str, occurrences: u64) -> StoredError {
        StoredError {
            fingerprint: fingerprint.to_owned(),
            script: "shop".to_owned(),
            exception: (!exception.is_empty()).then(|| exception.to_owned()),
            category: None,
            message: platform_errors::normalize::normalize(sample),
            sample: sample.to_owned(),
            occurrences,
            last_seen: 0,
            open: true,
        }
    }
}
