//! What may leave the platform: credentials, keys, personal data and query strings are masked
//! before anything is written to GitHub.
//!
//! Hand-written scanners, each one linear pass over at most [`MAX_SCAN`] bytes, so that a 1 MB
//! exception costs what 16 KB does (nothing past the bound is ever shown). The passes, in order:
//! private key blocks; URLs (user and password, query, webhook paths, the segment after a
//! secret-naming one); `name=value` / `"name": "value"` pairs whose name says secret (or says key
//! and whose value looks random); e-mail addresses; words (provider key formats, JWTs, bearer
//! credentials, long random or hex runs, national ids, IBANs); digit runs (card numbers that pass
//! Luhn, social security and social insurance numbers).

pub const MASK: &str = "[redacted]";
const KEY_MASK: &str = "[redacted-key]";
const ID_MASK: &str = "[redacted-id]";

/// Bytes of one text that redaction reads; the rest is cut.
pub const MAX_SCAN: usize = 16 * 1024;

/// The first [`MAX_SCAN`] bytes of `text`, cut at a character boundary.
pub fn bounded(text: &str) -> &str {
    let mut end = text.len().min(MAX_SCAN);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `text` (its first [`MAX_SCAN`] bytes) with every secret-looking part masked.
pub fn redact(text: &str) -> String {
    let text = private_keys(bounded(text));
    let text = urls(&text);
    let text = pairs(&text);
    let text = emails(&text);
    let text = words(&text);
    let text = digits(&text);
    // Masks are longer than what they replace: keep the bound on what leaves.
    bounded(&text).to_owned()
}

/// A request URL as it may be shown: scheme, host and path, never the query, with secrets in the
/// path masked.
pub fn redact_url(url: &str) -> String {
    let url = bounded(url);
    let end = url.find(['?', '#']).unwrap_or(url.len());
    redact(&url[..end])
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// Characters of tokens that carry dots and base64 (`ya29.…`, `SG.….…`, AWS secret keys).
fn is_token(b: u8) -> bool {
    is_word(b) || matches!(b, b'.' | b'+' | b'/' | b'=')
}

/// Where a URL-ish run ends: whitespace, quotes, brackets of prose.
fn is_url(b: u8) -> bool {
    !b.is_ascii_whitespace() && !matches!(b, b'"' | b'\'' | b'<' | b'>' | b'`' | b')' | b']' | b'}' | b',')
}

fn run(bytes: &[u8], from: usize, class: impl Fn(u8) -> bool) -> usize {
    let mut end = from;
    while end < bytes.len() && class(bytes[end]) {
        end += 1;
    }
    end
}

/// Shannon entropy of `text` in bits per byte.
fn entropy(text: &[u8]) -> f64 {
    let mut counts = [0u32; 256];
    for &b in text {
        counts[b as usize] += 1;
    }
    let n = text.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// Mixed letters and digits with the spread of a generated value, not of a word or a number.
fn looks_random(value: &[u8], min_len: usize, min_entropy: f64) -> bool {
    value.len() >= min_len
        && value.iter().any(u8::is_ascii_digit)
        && value.iter().any(u8::is_ascii_alphabetic)
        && entropy(value) >= min_entropy
}

/// Builds the output of a pass: copies what is kept, replaces what is masked.
struct Out<'a> {
    text: &'a str,
    out: String,
    copied: usize,
}

impl<'a> Out<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text,
            out: String::with_capacity(text.len()),
            copied: 0,
        }
    }

    fn mask(&mut self, start: usize, end: usize, mask: &str) {
        if start < self.copied || end <= start {
            return;
        }
        self.out.push_str(&self.text[self.copied..start]);
        self.out.push_str(mask);
        self.copied = end;
    }

    fn finish(mut self) -> String {
        self.out.push_str(&self.text[self.copied..]);
        self.out
    }
}

/// `-----BEGIN … PRIVATE KEY-----` blocks, up to their END line (or the end of the text).
fn private_keys(text: &str) -> String {
    const BEGIN: &str = "-----BEGIN ";
    let mut out = Out::new(text);
    let mut from = 0;
    while let Some(found) = text[from..].find(BEGIN) {
        let start = from + found;
        let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        if !text[start..line_end].contains("PRIVATE KEY") {
            from = start + BEGIN.len();
            continue;
        }
        let end = match text[line_end..].find("-----END ") {
            Some(i) => {
                let after = line_end + i + 9;
                text[after..].find("-----").map_or(text.len(), |j| after + j + 5)
            }
            None => text.len(),
        };
        out.mask(start, end, "[redacted-private-key]");
        from = end;
    }
    out.finish()
}

/// Paths of webhook URLs that are the credential themselves (the part after the marker).
const WEBHOOKS: &[&str] = &[
    "hooks.slack.com/services/",
    "hooks.slack.com/workflows/",
    "hooks.slack.com/triggers/",
    "discord.com/api/webhooks/",
    "discordapp.com/api/webhooks/",
    ".webhook.office.com/",
    "hooks.zapier.com/hooks/",
];

/// Path segments that say the next segment is a credential (`/reset-password/{token}`).
fn names_secret_segment(segment: &str) -> bool {
    let compact = compact(segment);
    strength(&compact) == Strength::Secret
        || [
            "reset",
            "invite",
            "invitation",
            "verify",
            "confirm",
            "magiclink",
            "webhook",
            "webhooks",
            "hooks",
            "unsubscribe",
            "activate",
            "key",
            "keys",
        ]
        .contains(&compact.as_str())
}

/// URLs: user and password, query and fragment, webhook paths, secret path segments.
fn urls(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Out::new(text);
    for marker in WEBHOOKS {
        let mut from = 0;
        while let Some(found) = text[from..].find(marker) {
            let start = from + found + marker.len();
            let end = run(bytes, start, is_url);
            out.mask(start, end, MASK);
            from = end.max(start);
        }
    }
    let text = out.finish();
    let bytes = text.as_bytes();
    let mut out = Out::new(&text);
    let mut from = 0;
    while let Some(found) = text[from..].find("://") {
        let at = from + found;
        let authority_start = at + 3;
        let end = run(bytes, authority_start, is_url);
        from = end.max(authority_start);
        let authority_end = text[authority_start..end]
            .find(['/', '?', '#'])
            .map_or(end, |i| authority_start + i);
        if let Some(userinfo) = text[authority_start..authority_end].rfind('@') {
            out.mask(authority_start, authority_start + userinfo, MASK);
        }
        let path_end = text[authority_end..end]
            .find(['?', '#'])
            .map_or(end, |i| authority_end + i);
        let mut segment_start = authority_end;
        let mut previous = "";
        for segment in text[authority_end..path_end].split('/') {
            if !segment.is_empty() && names_secret_segment(previous) {
                out.mask(segment_start, segment_start + segment.len(), MASK);
            }
            previous = segment;
            segment_start += segment.len() + 1;
        }
        if path_end < end {
            out.mask(path_end, end, "?[redacted]");
        }
    }
    out.finish()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strength {
    /// The value is a secret whatever it looks like.
    Secret,
    /// The value is masked when it looks random (`signing_key`, `auth`).
    KeyLike,
    Other,
}

/// A name lowercased without separators: `X-Api-Key`, `api_key` and `apiKey` are `xapikey`/`apikey`.
fn compact(name: &str) -> String {
    name.bytes()
        .filter(|b| b.is_ascii_alphanumeric())
        .map(|b| char::from(b.to_ascii_lowercase()))
        .collect()
}

fn strength(compact: &str) -> Strength {
    const SECRET_PARTS: &[&str] = &[
        "password",
        "passwd",
        "passphrase",
        "secret",
        "token",
        "apikey",
        "credential",
        "cookie",
        "authorization",
        "signature",
        "privatekey",
        "accesskey",
        "sessionid",
        "authkey",
        "jwt",
    ];
    const SECRET_NAMES: &[&str] = &["pwd", "pass", "pw", "sig", "session", "dbpass", "dbpwd"];
    const KEY_PARTS: &[&str] = &["key", "auth", "hash", "salt", "nonce", "otp", "code"];
    if SECRET_NAMES.contains(&compact) || SECRET_PARTS.iter().any(|part| compact.contains(part)) {
        Strength::Secret
    } else if KEY_PARTS.iter().any(|part| compact.contains(part)) {
        Strength::KeyLike
    } else {
        Strength::Other
    }
}

/// Header names whose whole value (to the end of the line or the closing quote) is a credential.
fn is_credential_header(compact: &str) -> bool {
    ["authorization", "proxyauthorization", "cookie", "setcookie"].contains(&compact)
}

/// `name=value`, `name: value` and `"name": "value"` whose name says secret.
fn pairs(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Out::new(text);
    let mut i = 0;
    while i < bytes.len() {
        if !matches!(bytes[i], b'=' | b':') || i < out.copied {
            i += 1;
            continue;
        }
        // `://` of a URL is not a pair.
        if bytes[i] == b':' && bytes[i + 1..].starts_with(b"//") {
            i += 3;
            continue;
        }
        let mut name_end = i;
        while name_end > out.copied && bytes[name_end - 1] == b' ' {
            name_end -= 1;
        }
        if name_end > out.copied && matches!(bytes[name_end - 1], b'"' | b'\'') {
            name_end -= 1;
        }
        let mut name_start = name_end;
        while name_start > out.copied
            && name_end - name_start < 64
            && (is_word(bytes[name_start - 1]) || bytes[name_start - 1] == b'.')
        {
            name_start -= 1;
        }
        let name = compact(&text[name_start..name_end]);
        let kind = strength(&name);
        if name.is_empty() || kind == Strength::Other {
            i += 1;
            continue;
        }
        let mut start = i + 1;
        while start < bytes.len() && bytes[start] == b' ' {
            start += 1;
        }
        let quote = bytes.get(start).copied().filter(|b| matches!(b, b'"' | b'\''));
        let (value_start, value_end) = match quote {
            Some(q) => {
                let inner = start + 1;
                let end = run(bytes, inner, |b| b != q && b != b'\n');
                (inner, end)
            }
            None if is_credential_header(&name) => (start, run(bytes, start, |b| b != b'\n' && b != b'\r')),
            None => (
                start,
                run(bytes, start, |b| {
                    !b.is_ascii_whitespace()
                        && !matches!(b, b'&' | b',' | b';' | b'}' | b')' | b'"' | b'\'' | b'<' | b'>')
                }),
            ),
        };
        let value = &bytes[value_start..value_end];
        let masked = !value.is_empty()
            && !value.starts_with(b"[redacted")
            && match kind {
                Strength::Secret => !matches!(value[0], b'{' | b'['),
                _ => looks_random(value, 12, 3.0),
            };
        if masked {
            out.mask(value_start, value_end, MASK);
            i = value_end;
        } else {
            i += 1;
        }
    }
    out.finish()
}

/// `local@domain.tld` addresses.
fn emails(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Out::new(text);
    let local = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-');
    for (at, _) in text.match_indices('@') {
        let mut start = at;
        while start > out.copied && local(bytes[start - 1]) {
            start -= 1;
        }
        let mut end = run(bytes, at + 1, |b| {
            b.is_ascii_alphanumeric() || b == b'.' || b == b'-'
        });
        while end > at + 1 && bytes[end - 1] == b'.' {
            end -= 1;
        }
        let domain = &text[at + 1..end];
        let tld = domain.rsplit('.').next().unwrap_or("");
        if start < at
            && domain.contains('.')
            && tld.len() >= 2
            && tld.bytes().all(|b| b.is_ascii_alphabetic())
        {
            out.mask(start, end, "[redacted-email]");
        }
    }
    out.finish()
}

#[derive(Clone, Copy)]
enum Class {
    /// `[A-Za-z0-9]`
    Alnum,
    /// `[A-Za-z0-9_-]`
    Word,
    /// `[0-9a-f]`
    Hex,
    /// `[A-Z0-9]`
    Upper,
    /// Token characters, dots and base64 included.
    Token,
}

impl Class {
    fn holds(self, b: u8) -> bool {
        match self {
            Self::Alnum => b.is_ascii_alphanumeric(),
            Self::Word => is_word(b),
            Self::Hex => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
            Self::Upper => b.is_ascii_uppercase() || b.is_ascii_digit(),
            Self::Token => is_token(b),
        }
    }
}

/// Provider key formats: a fixed prefix, then at least `min` characters of a class (one a digit).
const PREFIXED: &[(&str, usize, Class)] = &[
    ("ghp_", 36, Class::Alnum),
    ("gho_", 36, Class::Alnum),
    ("ghu_", 36, Class::Alnum),
    ("ghs_", 36, Class::Alnum),
    ("ghr_", 36, Class::Alnum),
    ("github_pat_", 40, Class::Word),
    ("glpat-", 20, Class::Word),
    ("glptt-", 20, Class::Word),
    ("xoxb-", 10, Class::Word),
    ("xoxp-", 10, Class::Word),
    ("xoxa-", 10, Class::Word),
    ("xoxr-", 10, Class::Word),
    ("xoxs-", 10, Class::Word),
    ("xoxe-", 10, Class::Word),
    ("xapp-", 10, Class::Word),
    ("sk_live_", 10, Class::Alnum),
    ("sk_test_", 10, Class::Alnum),
    ("rk_live_", 10, Class::Alnum),
    ("rk_test_", 10, Class::Alnum),
    ("whsec_", 20, Class::Alnum),
    ("AKIA", 16, Class::Upper),
    ("ASIA", 16, Class::Upper),
    ("AGPA", 16, Class::Upper),
    ("AIDA", 16, Class::Upper),
    ("AROA", 16, Class::Upper),
    ("ANPA", 16, Class::Upper),
    ("ANVA", 16, Class::Upper),
    ("AIPA", 16, Class::Upper),
    ("AIza", 35, Class::Word),
    ("ya29.", 20, Class::Token),
    ("GOCSPX-", 20, Class::Word),
    ("sk-", 20, Class::Word),
    ("npm_", 36, Class::Alnum),
    ("SK", 32, Class::Hex),
    ("SG.", 40, Class::Token),
    ("key-", 32, Class::Alnum),
    ("shpat_", 32, Class::Hex),
    ("shpss_", 32, Class::Hex),
    ("shpca_", 32, Class::Hex),
    ("shppa_", 32, Class::Hex),
    ("dop_v1_", 64, Class::Hex),
    ("doo_v1_", 64, Class::Hex),
    ("dor_v1_", 64, Class::Hex),
    ("hf_", 30, Class::Alnum),
    ("pypi-AgEIcHlwaS5vcmc", 40, Class::Word),
    ("dapi", 32, Class::Hex),
    ("hvs.", 24, Class::Token),
    ("hvb.", 24, Class::Token),
    ("lin_api_", 40, Class::Alnum),
    ("sq0atp-", 22, Class::Word),
    ("sq0csp-", 40, Class::Word),
    ("pscale_tkn_", 32, Class::Word),
    ("pscale_pw_", 32, Class::Word),
    ("ntn_", 40, Class::Alnum),
    ("secret_", 43, Class::Alnum),
    ("glsa_", 32, Class::Word),
    ("glc_", 32, Class::Word),
    ("dckr_pat_", 27, Class::Word),
    ("figd_", 40, Class::Word),
    ("ATATT3", 50, Class::Word),
    ("rubygems_", 48, Class::Hex),
    ("FLWSECK-", 32, Class::Word),
    ("sntrys_", 50, Class::Token),
    ("v1.0-", 100, Class::Token),
    ("AGE-SECRET-KEY-1", 58, Class::Upper),
];

/// The end of a provider key starting at `start`, if one does.
fn prefixed(bytes: &[u8], start: usize) -> Option<usize> {
    let rest = &bytes[start..];
    PREFIXED.iter().find_map(|&(prefix, min, class)| {
        let body = rest.strip_prefix(prefix.as_bytes())?;
        let len = body.iter().take_while(|&&b| class.holds(b)).count();
        (len >= min && body[..len].iter().any(u8::is_ascii_digit)).then_some(start + prefix.len() + len)
    })
}

fn is_uuid(word: &[u8]) -> bool {
    word.len() == 36
        && word.iter().enumerate().all(|(i, &b)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                b == b'-'
            } else {
                b.is_ascii_hexdigit()
            }
        })
}

/// A UK National Insurance number: two letters, six digits, A–D.
fn is_nino(word: &[u8]) -> bool {
    word.len() == 9
        && word[..2].iter().all(u8::is_ascii_uppercase)
        && word[2..8].iter().all(u8::is_ascii_digit)
        && (b'A'..=b'D').contains(&word[8])
}

/// An IBAN whose check digits hold (ISO 13616 mod 97).
fn is_iban(word: &[u8]) -> bool {
    if !(15..=34).contains(&word.len())
        || !word[..2].iter().all(u8::is_ascii_uppercase)
        || !word[2..4].iter().all(u8::is_ascii_digit)
        || !word.iter().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return false;
    }
    let rearranged = word[4..].iter().chain(&word[..4]);
    let mut remainder: u32 = 0;
    for &b in rearranged {
        let value = if b.is_ascii_digit() {
            u32::from(b - b'0')
        } else {
            u32::from(b - b'A') + 10
        };
        remainder = if value >= 10 {
            (remainder * 100 + value) % 97
        } else {
            (remainder * 10 + value) % 97
        };
    }
    remainder == 1
}

/// Words: provider keys, JWTs, bearer credentials, random and hex runs, national ids, IBANs.
fn words(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Out::new(text);
    let mut i = 0;
    while i < bytes.len() {
        if !is_word(bytes[i]) || (i > 0 && is_word(bytes[i - 1])) {
            i += 1;
            continue;
        }
        let word_end = run(bytes, i, is_word);
        let word = &bytes[i..word_end];
        if let Some(end) = prefixed(bytes, i) {
            out.mask(i, end, KEY_MASK);
            i = end;
            continue;
        }
        // header.payload.signature of a JWT.
        if word.starts_with(b"eyJ") && bytes.get(word_end) == Some(&b'.') {
            let payload_end = run(bytes, word_end + 1, is_word);
            if payload_end > word_end + 1 && bytes.get(payload_end) == Some(&b'.') {
                let end = run(bytes, payload_end + 1, is_word);
                out.mask(i, end, "[redacted-jwt]");
                i = end;
                continue;
            }
        }
        // `Bearer <credential>` / `Basic <credential>` outside a header.
        if word.eq_ignore_ascii_case(b"bearer") || word.eq_ignore_ascii_case(b"basic") {
            let start = run(bytes, word_end, |b| b == b' ');
            let end = run(bytes, start, is_token);
            if start > word_end && end - start >= 8 && !bytes[start..end].starts_with(b"[redacted") {
                out.mask(start, end, MASK);
                i = end;
                continue;
            }
        }
        // A Telegram bot token: `<bot id>:<35 characters>`.
        if word.iter().rev().take_while(|b| b.is_ascii_digit()).count() >= 5
            && bytes.get(word_end) == Some(&b':')
        {
            let end = run(bytes, word_end + 1, is_word);
            if end - word_end > 30 {
                out.mask(word_end + 1, end, KEY_MASK);
                i = end;
                continue;
            }
        }
        // Base64 keys (AWS secret access keys, Azure account keys): long, random, with `/` or `+`.
        let b64_end = run(bytes, i, |b| {
            b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')
        });
        let b64 = &bytes[i..b64_end];
        if b64.len() >= 40 && b64.iter().any(|b| matches!(b, b'+' | b'/')) && looks_random(b64, 40, 4.2) {
            out.mask(i, b64_end, KEY_MASK);
            i = b64_end;
            continue;
        }
        let hex =
            word.len() >= 32 && word.iter().all(u8::is_ascii_hexdigit) && word.iter().any(u8::is_ascii_digit);
        let random = word.len() >= 32
            && !is_uuid(word)
            && word.iter().any(u8::is_ascii_uppercase)
            && word.iter().any(u8::is_ascii_lowercase)
            && looks_random(word, 32, 4.0);
        if hex || random {
            out.mask(i, word_end, KEY_MASK);
        } else if is_nino(word) {
            out.mask(i, word_end, ID_MASK);
        } else if is_iban(word) {
            out.mask(i, word_end, "[redacted-iban]");
        }
        i = word_end;
    }
    out.finish()
}

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                if d * 2 > 9 {
                    d * 2 - 9
                } else {
                    d * 2
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// What a run of digit groups (`4111 1111 …`, `123-45-6789`) is, if it is personal.
fn personal_number(groups: &[&[u8]], separator: Option<u8>) -> Option<&'static str> {
    let digits: Vec<u8> = groups.iter().flat_map(|g| g.iter().map(|b| b - b'0')).collect();
    let lengths: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    if (13..=19).contains(&digits.len()) && (2..=6).contains(&digits[0]) && luhn(&digits) {
        return Some("[redacted-card]");
    }
    if separator == Some(b'-') && lengths == [3, 2, 4] {
        let area = &groups[0];
        let valid =
            area != b"000" && area != b"666" && area[0] != b'9' && groups[1] != b"00" && groups[2] != b"0000";
        return valid.then_some(ID_MASK);
    }
    if separator.is_some() && lengths == [3, 3, 3] && luhn(&digits) {
        return Some(ID_MASK);
    }
    None
}

/// Digit runs, with single spaces or dashes between groups: card numbers, SSNs, SINs.
fn digits(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Out::new(text);
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit()
            || (i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'-'))
        {
            i += 1;
            continue;
        }
        // Groups and where each ends; one kind of separator per number.
        let mut groups: Vec<(usize, usize)> = Vec::new();
        let mut separator = None;
        let mut at = i;
        let mut count = 0;
        loop {
            let end = run(bytes, at, |b| b.is_ascii_digit());
            count += end - at;
            groups.push((at, end));
            let next = bytes.get(end).copied();
            let continues = matches!(next, Some(b' ' | b'-'))
                && (separator.is_none() || separator == next)
                && bytes.get(end + 1).is_some_and(u8::is_ascii_digit)
                && count < 19
                && groups.len() < 8;
            if !continues {
                break;
            }
            separator = next;
            at = end + 1;
        }
        let last_end = groups.last().map_or(i, |g| g.1);
        // The longest leading groups that form a personal number.
        let found = (1..=groups.len()).rev().find_map(|n| {
            let (_, end) = groups[n - 1];
            if bytes.get(end).is_some_and(|b| b.is_ascii_alphanumeric()) {
                return None;
            }
            let parts: Vec<&[u8]> = groups[..n].iter().map(|&(s, e)| &bytes[s..e]).collect();
            personal_number(&parts, if n > 1 { separator } else { None }).map(|mask| (end, mask))
        });
        match found {
            Some((end, mask)) => {
                out.mask(i, end, mask);
                i = end;
            }
            None => i = last_end,
        }
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked() {
        let samples = [
            (
                "GET https://api.example.com/v1/items?api_key=SECRET123&user=bob",
                "SECRET123",
            ),
            ("Authorization: Bearer abc.def-SECRET", "SECRET"),
            (r#"{"headers":{"cookie":"session=SECRETCOOKIE"}}"#, "SECRETCOOKIE"),
            ("contact jane.doe@example.com now", "jane.doe@example.com"),
            (
                "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.SIGNATUREPART",
                "SIGNATUREPART",
            ),
            ("password=hunter2 failed", "hunter2"),
            (r#"{"client_secret": "S3CR3T"}"#, "S3CR3T"),
            ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abcdef"),
            ("sk_live_ABCDEFGHIJKLMNOP1 used", "sk_live_ABCDEFGHIJ"),
        ];
        for (input, secret) in samples {
            let out = redact(input);
            assert!(!out.contains(secret), "{input} → {out}");
        }
        assert_eq!(redact("plain message 42"), "plain message 42");
    }

    #[test]
    fn urls_lose_their_query() {
        assert_eq!(
            redact_url("https://a.example/x/y?token=1#frag"),
            "https://a.example/x/y"
        );
        assert_eq!(
            redact("see https://a.example/x?t=1 now"),
            "see https://a.example/x?[redacted] now"
        );
    }

    #[test]
    fn numbers_are_checked_before_they_are_masked() {
        assert!(luhn(&[4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]));
        assert_eq!(
            redact("card 4111111111111112 is not a card"),
            "card 4111111111111112 is not a card"
        );
        assert_eq!(redact("ssn 000-12-3456"), "ssn 000-12-3456");
        assert!(is_iban(b"GB82WEST12345698765432"));
        assert!(!is_iban(b"GB83WEST12345698765432"));
        assert_eq!(bounded("é".repeat(MAX_SCAN).as_str()).len(), MAX_SCAN);
    }
}
