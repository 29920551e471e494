//! The dashboard's sign-in cookie: a personal token pasted into its form, sent by the browser to
//! the dashboard's paths only, never to another site, unreadable by scripts.

pub const COOKIE: &str = "platform_dashboard";

/// The token in a `Cookie` header's dashboard cookie, if any.
pub fn token(header: Option<String>) -> Option<String> {
    header?
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_read_from_its_own_cookie_only() {
        let header = |h: &str| Some(h.to_owned());
        assert_eq!(
            token(header("a=1; platform_dashboard=ntk_x; b=2")).as_deref(),
            Some("ntk_x")
        );
        assert_eq!(token(header("platform_dashboardx=ntk_x")), None);
        assert_eq!(token(header("platform_dashboard=")), None);
        assert_eq!(token(None), None);
    }
}
