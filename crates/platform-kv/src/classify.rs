//! Which family a raw key string belongs to.
//!
//! Placeholders match any non-empty text; when several patterns match (`CONFIG:SETTINGS:ALL` also
//! fits `CONFIG:SETTINGS:{key}`), the pattern with the most literal text wins, so a fixed key always
//! beats a pattern that could produce it. Key constructors use this to refuse such collisions.

use crate::spec::Spec;

/// The family of `registry` whose pattern `key` fits best, if any.
pub fn family_of(registry: &[&'static Spec], key: &str) -> Option<&'static Spec> {
    registry
        .iter()
        .copied()
        .filter(|spec| matches(spec.pattern, key))
        .max_by_key(|spec| literal_len(spec.pattern))
}

fn literal_len(pattern: &str) -> usize {
    let mut len = 0;
    let mut inside = false;
    for c in pattern.chars() {
        match c {
            '{' => inside = true,
            '}' => inside = false,
            _ if !inside => len += c.len_utf8(),
            _ => {}
        }
    }
    len
}

/// Whether `key` fits `pattern`, each placeholder standing for one or more characters.
pub fn matches(pattern: &str, key: &str) -> bool {
    match pattern.find('{') {
        None => pattern == key,
        Some(open) => {
            let (literal, after) = pattern.split_at(open);
            let Some(rest_key) = key.strip_prefix(literal) else {
                return false;
            };
            let rest_pattern = after.find('}').map_or("", |close| &after[close + 1..]);
            // Try every non-empty span for the placeholder, shortest first.
            rest_key
                .char_indices()
                .skip(1)
                .map(|(i, _)| i)
                .chain(std::iter::once(rest_key.len()))
                .filter(|&end| end > 0)
                .any(|end| matches(rest_pattern, &rest_key[end..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_span_colons() {
        assert!(matches("FEATURE:{key}:enabled", "FEATURE:a:b:c:enabled"));
        assert!(!matches("FEATURE:{key}:enabled", "FEATURE::enabled"));
        assert!(matches(
            "BUDGET_WARN:{feature}:{metric}:{threshold}",
            "BUDGET_WARN:a:b:c:d1_writes:70"
        ));
        assert!(!matches("GLOBAL_STOP_ALL", "GLOBAL_STOP_ALL2"));
    }
}
