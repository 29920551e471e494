//! The anti-CSRF token of action forms: an HMAC-SHA256 of the person's id and the UTC day, keyed
//! by a secret the worker holds. Only the worker can make it, it names one person (a token from
//! one person's page is refused for another) and it lapses after a day or two.

use hmac::{Hmac, Mac};
use sha2::Sha256;

const DAY_MS: u64 = 86_400_000;

/// HMAC takes a key of any length, so this is always `Some`.
fn mac(secret: &[u8], person: &str, day: u64) -> Option<Hmac<Sha256>> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).ok()?;
    mac.update(b"platform-dashboard-action\n");
    mac.update(person.as_bytes());
    mac.update(b"\n");
    mac.update(day.to_string().as_bytes());
    Some(mac)
}

/// The token of `person`'s forms rendered at `now` (epoch ms).
pub fn token(secret: &[u8], person: &str, now: u64) -> String {
    mac(secret, person, now / DAY_MS).map_or_else(String::new, |mac| {
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    })
}

/// Whether `presented` is `person`'s token of today or yesterday (a page left open over midnight
/// still works), compared in constant time.
pub fn verify(secret: &[u8], person: &str, presented: &str, now: u64) -> bool {
    let Some(bytes) = decode(presented) else {
        return false;
    };
    let today = now / DAY_MS;
    [today, today.saturating_sub(1)]
        .iter()
        .filter_map(|day| mac(secret, person, *day))
        .any(|mac| mac.verify_slice(&bytes).is_ok())
}

fn decode(hex: &str) -> Option<Vec<u8>> {
    if hex.len() != 64 {
        return None;
    }
    (0..64)
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_772_000_000_000;

    #[test]
    fn a_token_holds_for_its_person_and_day_only() {
        let t = token(b"secret", "ann", NOW);
        assert_eq!(t.len(), 64);
        assert!(verify(b"secret", "ann", &t, NOW));
        assert!(
            verify(b"secret", "ann", &t, NOW + DAY_MS),
            "a page left open over midnight"
        );
        assert!(!verify(b"secret", "ann", &t, NOW + 2 * DAY_MS), "lapsed");
        assert!(!verify(b"secret", "bob", &t, NOW), "another person's");
        assert!(!verify(b"other", "ann", &t, NOW), "another secret's");
        for forged in ["", "00", &"0".repeat(64), &t[..63], &format!("{}zz", &t[..62])] {
            assert!(!verify(b"secret", "ann", forged, NOW), "{forged:?}");
        }
    }
}
