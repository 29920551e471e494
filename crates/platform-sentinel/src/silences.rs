//! Silences, as alert managers have them: a matcher (project, feature, kind; each left out
//! matches anything) and an expiry. A silenced incident is recorded as usual; only its alert and
//! its recovery notice are not sent.

use platform_core::{EpochMs, FeatureKey, ProjectId};
use serde::Serialize;

use crate::incident::{Finding, IncidentKind, Open};

/// The longest a silence may last: a forgotten silence must not hide alerts for ever.
pub const MAX_SILENCE_MS: u64 = 30 * crate::DAY_MS;

/// What a silence matches.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Matcher {
    pub project: Option<ProjectId>,
    pub feature: Option<FeatureKey>,
    pub kind: Option<IncidentKind>,
}

/// A silence as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Silence {
    pub id: u64,
    #[serde(flatten)]
    pub matcher: Matcher,
    pub reason: String,
    pub created_at: EpochMs,
    pub expires_at: EpochMs,
}

/// What an alert is about, for matching.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub kind: IncidentKind,
    pub project: Option<&'a ProjectId>,
    pub feature: Option<&'a FeatureKey>,
}

impl<'a> From<&'a Finding> for Target<'a> {
    fn from(f: &'a Finding) -> Self {
        Self {
            kind: f.kind,
            project: f.project.as_ref(),
            feature: f.feature.as_ref(),
        }
    }
}

impl<'a> From<&'a Open> for Target<'a> {
    fn from(o: &'a Open) -> Self {
        Self {
            kind: o.kind,
            project: o.project.as_ref(),
            feature: o.feature.as_ref(),
        }
    }
}

impl Matcher {
    /// A matcher must say something: one that matches everything would silence the sentinel.
    pub fn validate(self) -> Result<Self, String> {
        if self.project.is_none() && self.feature.is_none() && self.kind.is_none() {
            return Err("a silence needs at least one of project, feature or kind".into());
        }
        if let (Some(project), Some(feature)) = (&self.project, &self.feature) {
            if &feature.project() != project {
                return Err(format!("feature {feature} is not in project {project}"));
            }
        }
        Ok(self)
    }

    pub fn matches(&self, target: Target<'_>) -> bool {
        self.kind.is_none_or(|k| k == target.kind)
            && self.project.as_ref().is_none_or(|p| {
                target.project == Some(p) || target.feature.is_some_and(|f| &f.project() == p)
            })
            && self.feature.as_ref().is_none_or(|f| target.feature == Some(f))
    }
}

impl Silence {
    pub fn is_active(&self, now: EpochMs) -> bool {
        now < self.expires_at
    }
}

/// The first active silence that matches `target`, if any.
pub fn silencing<'s>(silences: &'s [Silence], target: Target<'_>, now: EpochMs) -> Option<&'s Silence> {
    silences
        .iter()
        .find(|s| s.is_active(now) && s.matcher.matches(target))
}

/// Checks a requested expiry: after `now` and at most [`MAX_SILENCE_MS`] away.
pub fn check_expiry(expires_at: EpochMs, now: EpochMs) -> Result<EpochMs, String> {
    if expires_at <= now {
        return Err("expires_at must be in the future".into());
    }
    if expires_at - now > MAX_SILENCE_MS {
        return Err("a silence lasts at most 30 days".into());
    }
    Ok(expires_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feature(raw: &str) -> FeatureKey {
        FeatureKey::parse(raw).unwrap()
    }

    fn silence(matcher: Matcher) -> Silence {
        Silence {
            id: 1,
            matcher,
            reason: "maintenance".into(),
            created_at: 100,
            expires_at: 200,
        }
    }

    #[test]
    fn a_matcher_matches_what_it_names_and_anything_it_leaves_out() {
        let app = feature("app:api:search");
        let other = feature("other:api:search");
        let by_project = Matcher {
            project: Some(ProjectId::parse("app").unwrap()),
            ..Matcher::default()
        };
        let gap = |f| Target {
            kind: IncidentKind::Gap,
            project: None,
            feature: Some(f),
        };
        assert!(by_project.matches(gap(&app)));
        assert!(!by_project.matches(gap(&other)));
        let gaps_only = Matcher {
            kind: Some(IncidentKind::Gap),
            feature: Some(app.clone()),
            ..Matcher::default()
        };
        assert!(gaps_only.matches(gap(&app)));
        assert!(!gaps_only.matches(Target {
            kind: IncidentKind::Anomaly,
            ..gap(&app)
        }));
    }

    #[test]
    fn a_silence_holds_until_it_expires() {
        let app = feature("app:api:search");
        let silences = [silence(Matcher {
            feature: Some(app.clone()),
            ..Matcher::default()
        })];
        let target = Target {
            kind: IncidentKind::Gap,
            project: None,
            feature: Some(&app),
        };
        assert!(silencing(&silences, target, 50).is_some());
        assert!(silencing(&silences, target, 150).is_some());
        assert!(silencing(&silences, target, 200).is_none());
    }

    #[test]
    fn an_empty_or_contradictory_matcher_is_refused() {
        assert!(Matcher::default().validate().is_err());
        let contradiction = Matcher {
            project: Some(ProjectId::parse("other").unwrap()),
            feature: Some(feature("app:api:search")),
            kind: None,
        };
        assert!(contradiction.validate().is_err());
        assert!(check_expiry(50, 100).is_err());
        assert!(check_expiry(100 + MAX_SILENCE_MS + 1, 100).is_err());
    }
}
