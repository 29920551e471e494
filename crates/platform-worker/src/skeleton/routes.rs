//! Route matching: a path against the table's patterns (`/features/:key/usage`), pure so it is
//! tested natively.

use worker::Method;

use super::Route;

/// What the table says about a request.
#[derive(Debug)]
pub enum Match<'r> {
    /// The route, with its path parameters (percent-decoded) in pattern order.
    Found(&'r Route, Vec<(&'static str, String)>),
    /// The path is known but not for this method: the methods it takes, for `Allow`.
    WrongMethod(Vec<Method>),
    NotFound,
}

/// The path's segments, leading and trailing slashes ignored (`/health/` is `/health`).
fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.trim_matches('/').split('/')
}

/// The parameters of `path` under `pattern`, or `None` when it does not match.
pub fn params(pattern: &'static str, path: &str) -> Option<Vec<(&'static str, String)>> {
    let mut found = Vec::new();
    let mut path = segments(path);
    for part in segments(pattern) {
        let segment = path.next()?;
        match part.strip_prefix(':') {
            Some(name) if !segment.is_empty() => found.push((name, decode(segment))),
            Some(_) => return None,
            None if part == segment => {}
            None => return None,
        }
    }
    path.next().is_none().then_some(found)
}

/// The first route of the table whose pattern and method match.
pub fn find<'r>(routes: &'r [Route], method: &Method, path: &str) -> Match<'r> {
    let mut allowed = Vec::new();
    for route in routes {
        if let Some(params) = params(route.path, path) {
            if route.method == *method {
                return Match::Found(route, params);
            }
            if !allowed.contains(&route.method) {
                allowed.push(route.method.clone());
            }
        }
    }
    if allowed.is_empty() {
        Match::NotFound
    } else {
        Match::WrongMethod(allowed)
    }
}

/// The first value of query parameter `name` in `url`, decoded as a form value (`+` is a space),
/// read without a URL parser: the `url` crate and its IDNA tables would cost a worker tens of KB.
pub fn query_value(url: &str, name: &str) -> Option<String> {
    let without_fragment = url.split('#').next().unwrap_or_default();
    let (_, query) = without_fragment.split_once('?')?;
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let form = |raw: &str| decode(&raw.replace('+', " "));
        (form(key) == name).then(|| form(value))
    })
}

/// Percent-decodes a path segment; an invalid escape is kept as written.
pub fn decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        let escaped = bytes
            .get(i + 1..i + 3)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (byte, escaped) {
            (b'%', Some(decoded)) => {
                out.push(decoded);
                i += 3;
            }
            _ => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::skeleton::{Auth, Cx, Reply};

    fn never(_: Cx) -> crate::skeleton::LocalFuture<Reply> {
        Box::pin(async { Err(crate::ApiError::not_found("unused")) })
    }

    const TABLE: &[Route] = &[
        Route::new(Method::Get, "/features/:key/usage", Auth::Admin, never),
        Route::new(Method::Post, "/features/:key/disable", Auth::Admin, never),
        Route::new(Method::Get, "/settings", Auth::Admin, never),
        Route::new(Method::Put, "/settings", Auth::Admin, never),
        Route::new(Method::Post, "/github/webhook", Auth::Signature, never),
    ];

    fn found(method: Method, path: &str) -> Option<(&'static str, Vec<(&'static str, String)>)> {
        match find(TABLE, &method, path) {
            Match::Found(route, params) => Some((route.path, params)),
            _ => None,
        }
    }

    #[test]
    fn patterns_bind_decoded_parameters() {
        assert_eq!(
            found(Method::Get, "/features/shop%3Aapi%3Areport/usage"),
            Some((
                "/features/:key/usage",
                vec![("key", "shop:api:report".to_owned())]
            ))
        );
        assert_eq!(
            found(Method::Post, "/github/webhook/"),
            Some(("/github/webhook", vec![]))
        );
        assert_eq!(found(Method::Get, "/features//usage"), None);
        assert_eq!(found(Method::Get, "/features/a/usage/more"), None);
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("a%2"), "a%2");
    }

    #[test]
    fn query_values_are_read_as_forms_encode_them() {
        let url =
            "https://w.example/notifications?unread=true&source=platform%2Dusage&q=a+b&empty=&flag#frag=1";
        assert_eq!(query_value(url, "unread").as_deref(), Some("true"));
        assert_eq!(query_value(url, "source").as_deref(), Some("platform-usage"));
        assert_eq!(query_value(url, "q").as_deref(), Some("a b"));
        assert_eq!(query_value(url, "empty").as_deref(), Some(""));
        assert_eq!(query_value(url, "flag").as_deref(), Some(""));
        assert_eq!(query_value(url, "frag"), None);
        assert_eq!(query_value(url, "missing"), None);
        assert_eq!(query_value("https://w.example/x", "a"), None);
        assert_eq!(query_value("/x?a=1&a=2", "a").as_deref(), Some("1"));
    }

    #[test]
    fn a_known_path_with_another_method_lists_the_allowed_ones() {
        match find(TABLE, &Method::Delete, "/settings") {
            Match::WrongMethod(allowed) => assert_eq!(allowed, vec![Method::Get, Method::Put]),
            other => panic!("{other:?}"),
        }
        assert!(matches!(find(TABLE, &Method::Get, "/"), Match::NotFound));
        assert!(matches!(find(TABLE, &Method::Get, "/nothing"), Match::NotFound));
    }
}
