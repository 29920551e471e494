//! Personal tokens an admin issues to a person: `ntk_` and 64 hex digits of randomness, shown
//! once and stored only as their SHA-256, so the database never holds a usable token.

use sha2::{Digest, Sha256};

pub const PREFIX: &str = "ntk_";
/// Random bytes per token.
pub const RANDOM_BYTES: usize = 32;

/// The token made of `random`.
pub fn format(random: &[u8; RANDOM_BYTES]) -> String {
    format!("{PREFIX}{}", hex(random))
}

/// Whether `presented` has a personal token's shape (so an admin token or a typo is told apart
/// without a database read).
pub fn is_personal(presented: &str) -> bool {
    presented
        .strip_prefix(PREFIX)
        .is_some_and(|rest| rest.len() == RANDOM_BYTES * 2 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// What the database stores and looks a token up by.
pub fn hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// The public id of a token (to list and revoke it): the start of its hash, which reveals
/// nothing usable.
pub fn id(hash: &str) -> String {
    hash.chars().take(16).collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_recognised_and_stored_hashed() {
        let token = format(&[0xab; RANDOM_BYTES]);
        assert!(token.starts_with("ntk_abab"));
        assert!(is_personal(&token));
        assert!(!is_personal("ntk_abab"));
        assert!(!is_personal(&token.replace('a', "z")));
        assert!(!is_personal("the-admin-token"));
        let stored = hash(&token);
        assert_eq!(stored.len(), 64);
        assert_ne!(stored, token);
        assert_eq!(stored, hash(&token));
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(id(&stored).len(), 16);
    }
}
