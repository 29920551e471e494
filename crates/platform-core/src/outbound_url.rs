//! A URL the platform calls that comes from configuration (a secret or a var, such as the Slack
//! webhook), checked where it enters so that it is used exactly as written or refused with a
//! reason. The host must be ASCII: the workers carry no IDNA tables (they would cost about 48 KB
//! of each worker's wasm), so an international domain name is written in its punycode form
//! (`xn--...`) rather than converted, or silently misread, here.

use std::fmt;

/// A checked `https://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundUrl(String);

/// Why a configured URL is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundUrlError(String);

impl fmt::Display for OutboundUrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OutboundUrlError {}

fn refuse(reason: impl Into<String>) -> OutboundUrlError {
    OutboundUrlError(reason.into())
}

impl OutboundUrl {
    /// Checks `text`: `https://`, then a host (a name, an IPv4 address or a bracketed IPv6
    /// address) with an optional port, then anything. No credentials in the URL, no spaces or
    /// control characters anywhere.
    pub fn parse(text: &str) -> Result<Self, OutboundUrlError> {
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(refuse("the URL contains a space or a control character"));
        }
        let rest = text
            .get(..8)
            .filter(|scheme| scheme.eq_ignore_ascii_case("https://"))
            .map(|_| &text[8..])
            .ok_or_else(|| refuse("the URL must start with https://"))?;
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.contains('@') {
            return Err(refuse("the URL must not carry credentials (user@host)"));
        }
        let (host, port) = split_port(authority)?;
        check_host(host)?;
        if let Some(port) = port {
            if port.parse::<u16>().map_or(true, |p| p == 0) {
                return Err(refuse(format!("the port {port:?} is not a port number")));
            }
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OutboundUrl {
    /// The scheme and host only: the rest of a webhook URL is its secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let end = self.0[8..].find(['/', '?', '#']).map_or(self.0.len(), |i| i + 8);
        write!(f, "{}/...", &self.0[..end])
    }
}

/// `host[:port]` or `[v6][:port]`.
fn split_port(authority: &str) -> Result<(&str, Option<&str>), OutboundUrlError> {
    if authority.starts_with('[') {
        let end = authority
            .find(']')
            .ok_or_else(|| refuse("an IPv6 host is not closed by ]"))?;
        let port = match &authority[end + 1..] {
            "" => None,
            after => Some(
                after
                    .strip_prefix(':')
                    .ok_or_else(|| refuse("the text after the IPv6 host is not a port"))?,
            ),
        };
        return Ok((&authority[..=end], port));
    }
    Ok(match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    })
}

fn check_host(host: &str) -> Result<(), OutboundUrlError> {
    if host.is_empty() {
        return Err(refuse("the URL has no host"));
    }
    if !host.is_ascii() {
        return Err(refuse(format!(
            "the host {host:?} is not ASCII: write an international domain name in its punycode \
             form (xn--...); it is not converted"
        )));
    }
    let allowed = |c: char| {
        if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            !v6.is_empty() && (c.is_ascii_hexdigit() || matches!(c, ':' | '.' | '[' | ']'))
        } else {
            c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')
        }
    };
    if let Some(bad) = host.chars().find(|&c| !allowed(c)) {
        return Err(refuse(format!(
            "the host {host:?} has {bad:?}, which a host name cannot have"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(text: &str) -> String {
        OutboundUrl::parse(text).unwrap_err().to_string()
    }

    #[test]
    fn webhook_urls_as_slack_and_a_relay_give_them_are_kept_as_written() {
        for url in [
            "https://hooks.slack.com/services/T000/B000/XXXX",
            "HTTPS://hooks.slack.com/services/T000/B000/XXXX?x=1#y",
            "https://relay.example:8443/hook",
            "https://xn--bcher-kva.example/hook",
            "https://192.0.2.7/hook",
            "https://[2001:db8::1]:443/hook",
            "https://hooks.example",
        ] {
            assert_eq!(OutboundUrl::parse(url).unwrap().as_str(), url);
        }
    }

    #[test]
    fn a_non_ascii_host_is_refused_with_what_to_write_instead() {
        for url in [
            "https://bücher.example/hook",
            "https://hooks.slаck.com/services/T/B/X",
        ] {
            let reason = reason(url);
            assert!(reason.contains("is not ASCII"), "{reason}");
            assert!(reason.contains("punycode form (xn--...)"), "{reason}");
        }
        // Unicode in the path is the runtime's to encode, not a different host.
        assert!(OutboundUrl::parse("https://hooks.example/b\u{fc}cher").is_ok());
    }

    #[test]
    fn other_malformed_urls_say_what_is_wrong() {
        for (url, expected) in [
            ("http://hooks.slack.com/x", "must start with https://"),
            ("hooks.slack.com/services", "must start with https://"),
            ("", "must start with https://"),
            ("https://", "has no host"),
            ("https:///path", "has no host"),
            ("https://user:pw@hooks.example/x", "credentials"),
            ("https://hooks.example:http/x", "not a port number"),
            ("https://hooks.example:0/x", "not a port number"),
            ("https://hooks example/x", "space"),
            (" https://hooks.example/x", "space"),
            ("https://hooks.example/x\n", "control character"),
            ("https://hooks%2eexample/x", "'%'"),
            ("https://[2001:db8::1/x", "not closed"),
            ("https://[2001:db8::1]x/y", "not a port"),
            ("https://[]/x", "'['"),
        ] {
            let reason = reason(url);
            assert!(reason.contains(expected), "{url:?}: {reason}");
        }
    }

    #[test]
    fn display_shows_the_host_and_hides_the_secret_path() {
        let url = OutboundUrl::parse("https://hooks.slack.com/services/T000/B000/secret").unwrap();
        assert_eq!(url.to_string(), "https://hooks.slack.com/...");
        let bare = OutboundUrl::parse("https://hooks.example").unwrap();
        assert_eq!(bare.to_string(), "https://hooks.example/...");
    }
}
