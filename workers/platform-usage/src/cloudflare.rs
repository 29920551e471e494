//! The account's own Cloudflare API credentials, read once for both of their users: the hourly
//! usage collector (GraphQL Analytics) and the cost report (subscriptions and billable usage).

use worker::Env;

/// The secret: a token with Account Analytics: Read, and Billing: Read for the billed figures.
pub const TOKEN: &str = "CLOUDFLARE_API_TOKEN";
/// The var: the account the token reads.
pub const ACCOUNT: &str = "CLOUDFLARE_ACCOUNT_ID";
/// What goes without the token, as `/health` says it.
pub const WITHOUT_TOKEN: &str = "the account's own usage is not collected, /cost shows no billed \
     actual and the plan comes from budgets.yaml";

pub struct Credentials {
    pub token: String,
    /// 32 hex digits: checked before it becomes part of a URL or a query.
    pub account: String,
}

impl Credentials {
    /// The credentials; `None` without a token (a platform run without the account's figures),
    /// an error when the token is set but the account id is missing or malformed.
    pub fn from_env(env: &Env) -> Result<Option<Self>, String> {
        let token = env.secret(TOKEN).map(|s| s.to_string()).unwrap_or_default();
        if token.trim().is_empty() {
            return Ok(None);
        }
        let account = env.var(ACCOUNT).map(|v| v.to_string()).unwrap_or_default();
        valid_account(&account)?;
        Ok(Some(Self { token, account }))
    }

    /// The credentials, or what is missing and how to set it.
    pub fn required(env: &Env) -> Result<Self, String> {
        Self::from_env(env)?.ok_or_else(|| {
            format!(
                "{TOKEN} is not set: {WITHOUT_TOKEN} (wrangler secret put {TOKEN} with a token that \
                 has Account Analytics: Read and Billing: Read)"
            )
        })
    }
}

fn valid_account(account: &str) -> Result<(), String> {
    if account.len() == 32 && account.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(());
    }
    Err(format!(
        "{ACCOUNT} is {account:?}, not a 32-hex-digit account id: set it in \
         wrangler/platform-usage.toml (the id is in the dashboard's URL)"
    ))
}

#[cfg(test)]
mod tests {
    use super::valid_account;

    #[test]
    fn an_account_id_is_32_hex_digits() {
        assert!(valid_account("0123456789abcdef0123456789ABCDEF").is_ok());
        for bad in [
            "",
            "0123",
            "0123456789abcdef0123456789abcdeg",
            "../../user/tokens/0123456789abcd",
        ] {
            let reason = valid_account(bad).unwrap_err();
            assert!(reason.contains("32-hex-digit"), "{reason}");
        }
    }
}
