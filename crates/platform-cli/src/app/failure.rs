//! Why a command failed, and the exit status that tells a script which kind of failure it was.

use std::fmt;

/// Exit statuses (docs/cli.md). 0 is success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The command worked and found something wrong: an invalid config, a wrangler config that
    /// `wire --check` would change, an unhealthy worker.
    Findings = 1,
    /// The command was given something it cannot use: arguments, files, missing setup.
    Usage = 2,
    /// The platform refused the request (4xx): unknown feature, bad token, bad input.
    Refused = 3,
    /// The platform could not be reached, or failed (5xx).
    Unavailable = 4,
}

/// A failed command: what happened and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: Exit,
    pub message: String,
    /// The next step, when there is one to suggest.
    pub hint: Option<String>,
}

impl Failure {
    pub fn new(code: Exit, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            hint: None,
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Exit::Usage, message)
    }

    pub fn findings(message: impl Into<String>) -> Self {
        Self::new(Exit::Findings, message)
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}
