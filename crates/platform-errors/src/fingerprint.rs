//! A fingerprint names one error: SHA-256 over its components, first 16 bytes as hex.

use sha2::{Digest, Sha256};

/// What identifies an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Components<'a> {
    pub script: &'a str,
    pub kind: &'a str,
    pub exception: Option<&'a str>,
    /// The transient category, or else the normalised message.
    pub category_or_message: &'a str,
    pub route: Option<&'a str>,
}

/// 32 lower-case hex characters.
pub fn fingerprint(c: &Components<'_>) -> String {
    let joined = [
        c.script,
        c.kind,
        c.exception.unwrap_or(""),
        c.category_or_message,
        c.route.unwrap_or(""),
    ]
    .join("\u{1f}");
    let digest = Sha256::digest(joined.as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// 16 hex characters naming a secret without revealing it: a check recorded for one token is
/// not taken for another after the secret is rotated.
pub fn secret_tag(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `raw` looks like a fingerprint (admin routes refuse anything else).
pub fn is_fingerprint(raw: &str) -> bool {
    raw.len() == 32
        && raw
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_tag_names_the_secret_without_revealing_it() {
        let tag = secret_tag("ghp_example");
        assert_eq!(tag.len(), 16);
        assert_eq!(tag, secret_tag("ghp_example"));
        assert_ne!(tag, secret_tag("ghp_rotated"));
        assert!(!tag.contains("ghp"));
    }

    fn of(script: &str, message: &str, route: Option<&str>) -> String {
        fingerprint(&Components {
            script,
            kind: "exception",
            exception: Some("Error"),
            category_or_message: message,
            route,
        })
    }

    #[test]
    fn fingerprints_are_stable_hex_and_differ_by_component() {
        let a = of("shop", "boom {n}", Some("shop.example/:id"));
        assert_eq!(a, of("shop", "boom {n}", Some("shop.example/:id")));
        assert!(is_fingerprint(&a));
        assert_ne!(a, of("blog", "boom {n}", Some("shop.example/:id")));
        assert_ne!(a, of("shop", "bang {n}", Some("shop.example/:id")));
        assert_ne!(a, of("shop", "boom {n}", None));
        assert!(!is_fingerprint("../etc"));
    }
}
