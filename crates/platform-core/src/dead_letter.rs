//! Dead letters outlasting their queue's retries. The runtime drops a message after its consumer's
//! last retry (100, five minutes apart: a little over eight hours), so a dead letter D1 still
//! refuses near that age is sent to its queue again as a new message whose retries start over.
//! The copy carries the id and queue it was first received with: it is recorded once, under that
//! id, however often it went round.

use serde::{Deserialize, Serialize};

use crate::time::EpochMs;

/// How long a dead letter is retried before it is sent again instead: well within the 8 h 20 min
/// the consumer's 100 retries, five minutes apart, last.
pub const RESEND_AFTER_MS: EpochMs = 6 * 3_600_000;

/// The field a copy's body is wrapped in.
const ENVELOPE: &str = "resent_dead_letter";

/// One dead letter, as it is recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadLetter {
    /// The id the message had when it first reached the dead-letter queue.
    pub id: String,
    /// The queue it was first received from.
    pub queue: String,
    /// Its body's JSON text.
    pub payload: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    resent_dead_letter: DeadLetter,
}

impl DeadLetter {
    /// The letter a delivered message is: the one it carries when it is a copy sent again, else
    /// the message itself.
    pub fn received(id: &str, queue: &str, payload: String) -> Self {
        // Only a body that starts as a copy's does is read as one: telemetry is never parsed here.
        let copy = payload
            .strip_prefix("{\"")
            .is_some_and(|rest| rest.starts_with(ENVELOPE))
            .then(|| serde_json::from_str::<Envelope>(&payload).ok())
            .flatten();
        match copy {
            Some(envelope) => envelope.resent_dead_letter,
            None => Self {
                id: id.to_owned(),
                queue: queue.to_owned(),
                payload,
            },
        }
    }

    /// The JSON text of the copy that sends it again.
    pub fn resent(&self) -> String {
        let envelope = Envelope {
            resent_dead_letter: self.clone(),
        };
        // A struct of strings always has a JSON form.
        serde_json::to_string(&envelope).unwrap_or_default()
    }

    /// Whether a delivery sent at `sent_at` is old enough to be sent again rather than retried.
    pub fn due_for_resend(sent_at: EpochMs, now: EpochMs) -> bool {
        now.saturating_sub(sent_at) >= RESEND_AFTER_MS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_keeps_the_first_id_queue_and_payload_however_often_it_is_sent() {
        let first = DeadLetter::received(
            "m-1",
            "platform-telemetry-dlq",
            r#"{"feature_key":"a:b:c"}"#.into(),
        );
        let mut letter = first.clone();
        for round in 0..3 {
            letter = DeadLetter::received(&format!("copy-{round}"), "other", letter.resent());
        }
        assert_eq!(letter, first);
    }

    #[test]
    fn only_a_well_formed_copy_is_unwrapped() {
        for payload in [
            r#"{"resent_dead_letter":{"id":"x","queue":"q"}}"#,
            r#"{"resent_dead_letter":{"id":"x","queue":"q","payload":"p","extra":1}}"#,
            r#"{"resent_dead_letter":"x"}"#,
            r#"{"feature_key":"resent_dead_letter"}"#,
            "JsValue(Object)",
        ] {
            let letter = DeadLetter::received("m-2", "dlq", payload.into());
            assert_eq!((letter.id.as_str(), letter.payload.as_str()), ("m-2", payload));
        }
    }

    #[test]
    fn is_sent_again_from_six_hours_on() {
        let sent = 1_000_000;
        assert!(!DeadLetter::due_for_resend(sent, sent + RESEND_AFTER_MS - 1));
        assert!(DeadLetter::due_for_resend(sent, sent + RESEND_AFTER_MS));
        assert!(
            !DeadLetter::due_for_resend(sent + 5, sent),
            "a clock behind the queue's"
        );
    }
}
