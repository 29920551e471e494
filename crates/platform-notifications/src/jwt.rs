//! Cloudflare Access JWTs (`Cf-Access-Jwt-Assertion`): the token's parts, its claims checked
//! against the configured team and audience, and the team's signing keys (the certs document).
//! Only the RS256 signature itself is checked elsewhere, by WebCrypto in the worker: the wasm
//! carries no RSA code.

use std::fmt;

use serde::Deserialize;
use serde_json::Value;

/// Seconds of clock difference tolerated on `exp` and `nbf`.
pub const LEEWAY_SECONDS: u64 = 60;

/// Why a token is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwtError {
    Malformed(&'static str),
    Algorithm(String),
    UnknownKey(String),
    Audience,
    Issuer(String),
    Expired,
    NotYetValid,
    NoEmail,
    Signature,
}

impl fmt::Display for JwtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(what) => write!(f, "the Access token is malformed: {what}"),
            Self::Algorithm(alg) => write!(f, "the Access token is signed with {alg}, not RS256"),
            Self::UnknownKey(kid) => write!(f, "the Access token's key {kid:?} is not one of the team's"),
            Self::Audience => f.write_str("the Access token is for another application (aud)"),
            Self::Issuer(iss) => write!(f, "the Access token was issued by {iss:?}, not the team"),
            Self::Expired => f.write_str("the Access token has expired"),
            Self::NotYetValid => f.write_str("the Access token is not valid yet"),
            Self::NoEmail => f.write_str("the Access token names no email"),
            Self::Signature => f.write_str("the Access token's signature does not verify"),
        }
    }
}

impl std::error::Error for JwtError {}

#[derive(Debug, Clone, Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
}

/// The claims the platform checks and uses.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Claims {
    #[serde(default, deserialize_with = "one_or_many")]
    pub aud: Vec<String>,
    pub iss: Option<String>,
    pub exp: Option<u64>,
    pub nbf: Option<u64>,
    pub email: Option<String>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::String(one) => vec![one],
        Value::Array(many) => many
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    })
}

/// A parsed token: what the signature covers, the signature, the key it names and its claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub signing_input: String,
    pub signature: Vec<u8>,
    pub kid: String,
    pub claims: Claims,
}

/// Splits and decodes a token; refuses any algorithm but RS256 before anything else is trusted.
pub fn parse(token: &str) -> Result<Token, JwtError> {
    let mut parts = token.trim().split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed("not three dot-separated parts"));
    };
    let header: Header =
        serde_json::from_slice(&base64url(header).ok_or(JwtError::Malformed("header is not base64url"))?)
            .map_err(|_| JwtError::Malformed("header is not JSON"))?;
    if header.alg != "RS256" {
        return Err(JwtError::Algorithm(header.alg));
    }
    let claims: Claims =
        serde_json::from_slice(&base64url(payload).ok_or(JwtError::Malformed("payload is not base64url"))?)
            .map_err(|_| JwtError::Malformed("payload is not a JSON claims object"))?;
    Ok(Token {
        signing_input: format!("{}.{}", token_head(token), token_payload(token)),
        signature: base64url(signature).ok_or(JwtError::Malformed("signature is not base64url"))?,
        kid: header
            .kid
            .ok_or(JwtError::Malformed("header names no key (kid)"))?,
        claims,
    })
}

fn token_head(token: &str) -> &str {
    token.trim().split('.').next().unwrap_or_default()
}

fn token_payload(token: &str) -> &str {
    token.trim().split('.').nth(1).unwrap_or_default()
}

/// The team's issuer for a team domain (`myteam.cloudflareaccess.com`).
pub fn issuer(team_domain: &str) -> String {
    format!("https://{}", team_domain.trim_end_matches('/'))
}

/// Where the team publishes its signing keys.
pub fn certs_url(team_domain: &str) -> String {
    format!("{}/cdn-cgi/access/certs", issuer(team_domain))
}

/// Checks the claims at `now_seconds` and gives the email they name, lowercased.
pub fn check(
    claims: &Claims,
    audience: &str,
    team_domain: &str,
    now_seconds: u64,
) -> Result<String, JwtError> {
    if !claims.aud.iter().any(|aud| aud == audience) {
        return Err(JwtError::Audience);
    }
    let expected = issuer(team_domain);
    match &claims.iss {
        Some(iss) if *iss == expected => {}
        other => return Err(JwtError::Issuer(other.clone().unwrap_or_default())),
    }
    match claims.exp {
        Some(exp) if exp + LEEWAY_SECONDS > now_seconds => {}
        _ => return Err(JwtError::Expired),
    }
    if claims.nbf.is_some_and(|nbf| nbf > now_seconds + LEEWAY_SECONDS) {
        return Err(JwtError::NotYetValid);
    }
    claims
        .email
        .as_deref()
        .filter(|email| email.contains('@'))
        .map(str::to_ascii_lowercase)
        .ok_or(JwtError::NoEmail)
}

/// One RSA signing key of the team, as a JWK.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Jwk {
    pub kid: String,
    pub kty: String,
    pub n: String,
    pub e: String,
}

/// The team's RSA keys from its certs document (`{"keys": [...], "public_cert": ...}`); keys of
/// other types are left out.
pub fn keys(certs: &str) -> Result<Vec<Jwk>, JwtError> {
    #[derive(Deserialize)]
    struct Certs {
        keys: Vec<Value>,
    }
    let certs: Certs =
        serde_json::from_str(certs).map_err(|_| JwtError::Malformed("the certs document has no keys"))?;
    Ok(certs
        .keys
        .into_iter()
        .filter_map(|key| serde_json::from_value::<Jwk>(key).ok())
        .filter(|key| key.kty == "RSA")
        .collect())
}

/// Decodes base64url, with or without padding.
pub fn base64url(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for byte in text.bytes() {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    // A single leftover character cannot end a valid encoding.
    (bits < 6).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(bytes: &[u8]) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
            for i in 0..=chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }

    fn token(header: &str, claims: &str) -> String {
        format!(
            "{}.{}.{}",
            encode(header.as_bytes()),
            encode(claims.as_bytes()),
            encode(b"sig")
        )
    }

    const TEAM: &str = "acme.cloudflareaccess.com";

    #[test]
    fn base64url_round_trips_every_length() {
        for data in [
            &b""[..],
            b"f",
            b"fo",
            b"foo",
            b"foob",
            b"fooba",
            b"foobar",
            &[0xff, 0xfe, 0x00],
        ] {
            assert_eq!(base64url(&encode(data)).as_deref(), Some(data));
        }
        assert_eq!(base64url("Zm9vYg==").as_deref(), Some(&b"foob"[..]));
        assert_eq!(base64url("a+b/"), None);
        assert_eq!(base64url("A"), None);
    }

    #[test]
    fn a_token_parses_and_its_claims_are_checked() {
        let claims = r#"{"aud":["app-aud"],"iss":"https://acme.cloudflareaccess.com","exp":2000,"nbf":1000,"email":"Ann@Example.com"}"#;
        let parsed = parse(&token(r#"{"alg":"RS256","kid":"k1"}"#, claims)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed.kid, "k1");
        assert_eq!(parsed.signature, b"sig");
        assert!(parsed.signing_input.ends_with(&encode(claims.as_bytes())));
        assert_eq!(
            check(&parsed.claims, "app-aud", TEAM, 1500),
            Ok("ann@example.com".into())
        );
        assert_eq!(
            check(&parsed.claims, "other", TEAM, 1500),
            Err(JwtError::Audience)
        );
        assert_eq!(
            check(&parsed.claims, "app-aud", "evil.cloudflareaccess.com", 1500),
            Err(JwtError::Issuer("https://acme.cloudflareaccess.com".into()))
        );
        assert_eq!(
            check(&parsed.claims, "app-aud", TEAM, 2100),
            Err(JwtError::Expired)
        );
        assert_eq!(
            check(&parsed.claims, "app-aud", TEAM, 900),
            Err(JwtError::NotYetValid)
        );
        let single = parse(&token(
            r#"{"alg":"RS256","kid":"k1"}"#,
            r#"{"aud":"app-aud","iss":"https://acme.cloudflareaccess.com","exp":2000}"#,
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            check(&single.claims, "app-aud", TEAM, 1500),
            Err(JwtError::NoEmail)
        );
    }

    #[test]
    fn other_algorithms_and_shapes_are_refused() {
        assert_eq!(
            parse(&token(r#"{"alg":"none","kid":"k1"}"#, "{}")),
            Err(JwtError::Algorithm("none".into()))
        );
        assert_eq!(
            parse(&token(r#"{"alg":"HS256","kid":"k1"}"#, "{}")),
            Err(JwtError::Algorithm("HS256".into()))
        );
        assert!(matches!(parse("a.b"), Err(JwtError::Malformed(_))));
        assert!(matches!(
            parse(&token(r#"{"alg":"RS256"}"#, "{}")),
            Err(JwtError::Malformed(_))
        ));
    }

    #[test]
    fn the_certs_document_gives_the_rsa_keys() {
        let certs = r#"{"keys":[{"kid":"k1","kty":"RSA","alg":"RS256","use":"sig","e":"AQAB","n":"xyz"},{"kid":"k2","kty":"EC","crv":"P-256","x":"a","y":"b"}],"public_cert":{"kid":"k1","cert":"..."}}"#;
        let found = keys(certs).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kid, "k1");
        assert!(keys("[]").is_err());
        assert_eq!(
            certs_url(TEAM),
            "https://acme.cloudflareaccess.com/cdn-cgi/access/certs"
        );
    }
}
