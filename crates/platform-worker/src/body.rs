//! Request bodies, read once for every route: bounded in size (413 past it), UTF-8 text (400
//! naming the first byte that is not), and JSON without duplicate keys (400 naming where).

use serde::de::DeserializeOwned;

use crate::response::ApiError;

/// The largest body an admin route reads (64 KiB); `POST /sync` takes its own, larger bound.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// 413 when a body of `bytes` is past `limit`.
pub fn check_size(bytes: usize, limit: usize) -> Result<(), ApiError> {
    if bytes > limit {
        return Err(ApiError::new(
            413,
            format!("the body is {bytes} bytes; at most {limit} are accepted"),
        ));
    }
    Ok(())
}

/// The body as text: 413 past `limit`, 400 when it is not UTF-8.
pub fn text(bytes: Vec<u8>, limit: usize) -> Result<String, ApiError> {
    check_size(bytes.len(), limit)?;
    String::from_utf8(bytes).map_err(|e| {
        ApiError::bad_request(format!(
            "the body is not UTF-8 text: byte {} is not",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// The JSON body as `T`; an empty body reads as `{}`. A key given twice, an unknown field (for
/// types that deny them) or a number out of the type's range is a 400 saying which.
pub fn json<T: DeserializeOwned>(text: &str) -> Result<T, ApiError> {
    let text = if text.trim().is_empty() { "{}" } else { text };
    let invalid = |e: serde_json::Error| ApiError::bad_request(format!("invalid body: {e}"));
    // Read twice (bodies are small): once for duplicate keys, once as `T` from the text itself,
    // so errors say where and the wasm carries no second deserializer (over a `Value`).
    platform_core::json::parse(text).map_err(invalid)?;
    serde_json::from_str(text).map_err(invalid)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;
    use serde_json::Value;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        #[allow(dead_code)] // read by serde
        days: Option<u32>,
    }

    fn refusal<T: DeserializeOwned + std::fmt::Debug>(text: &str) -> (u16, String) {
        let error = json::<T>(text).unwrap_err();
        (error.status, error.message)
    }

    #[test]
    fn refuses_duplicates_unknown_fields_and_out_of_range_numbers_with_400() {
        let (status, message) = refusal::<BTreeMap<String, Value>>(r#"{"a": 1, "a": 2}"#);
        assert_eq!(status, 400);
        assert!(
            message.contains("duplicate key \"a\" at line 1 column"),
            "{message}"
        );
        assert!(refusal::<Body>(r#"{"colour": 1}"#)
            .1
            .contains("unknown field `colour`"));
        assert!(refusal::<Body>(r#"{"days": 4294967296}"#)
            .1
            .contains("expected u32"));
        assert!(refusal::<Body>(r#"{"days": -1}"#).1.contains("invalid value"));
        assert!(json::<Body>("  ").is_ok(), "an empty body is {{}}");
    }

    #[test]
    fn refuses_invalid_text_and_bodies_past_the_limit() {
        let error = text(b"{\"a\": \"\xff\"}".to_vec(), MAX_BODY_BYTES).unwrap_err();
        assert_eq!(
            (error.status, error.message.as_str()),
            (400, "the body is not UTF-8 text: byte 7 is not")
        );
        let error = text(vec![b' '; MAX_BODY_BYTES + 1], MAX_BODY_BYTES).unwrap_err();
        assert_eq!(error.status, 413);
        assert!(error.message.contains("at most 65536"), "{}", error.message);
        assert_eq!(text(b"{}".to_vec(), 2).unwrap(), "{}");
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_are_text_within_the_limit_or_refused_with_400_or_413(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..80), limit in 0..64usize) {
            match text(bytes.clone(), limit) {
                Ok(text) => proptest::prop_assert!(text.len() <= limit && text.as_bytes() == bytes.as_slice()),
                Err(error) if bytes.len() > limit => proptest::prop_assert_eq!(error.status, 413),
                Err(error) => {
                    proptest::prop_assert_eq!(error.status, 400);
                    proptest::prop_assert!(std::str::from_utf8(&bytes).is_err());
                }
            }
        }

        #[test]
        fn any_text_is_the_body_it_says_or_a_400_saying_why(text in "[{}\\[\\]\",:0-9a-z \\\\-]{0,40}") {
            match json::<BTreeMap<String, Value>>(&text) {
                Ok(map) => {
                    let plain: BTreeMap<String, Value> = serde_json::from_str(if text.trim().is_empty() { "{}" } else { &text }).unwrap();
                    proptest::prop_assert_eq!(map, plain);
                }
                Err(error) => {
                    proptest::prop_assert_eq!(error.status, 400);
                    proptest::prop_assert!(error.message.starts_with("invalid body: "));
                }
            }
        }
    }
}
