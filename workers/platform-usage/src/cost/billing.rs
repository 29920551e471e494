//! What Cloudflare itself says about the account's plan and bill: the subscriptions API (plan and
//! billing period) and the billable-usage API (the billed cost so far). Both need a token with
//! Billing Read; without one, or when either answers an error, the platform says so and falls
//! back to budgets.yaml and its own estimate.

use platform_core::pricing::Plan;
use platform_core::UtcDay;
use serde_json::Value;
use worker::{Env, Method};

use crate::cloudflare::Credentials;

const API: &str = "https://api.cloudflare.com/client/v4";

/// The account the token reads.
pub struct Account(Credentials);

impl Account {
    /// The account from the shared credentials; `None` without a token (which `/health` reports).
    pub fn from_env(env: &Env) -> Result<Option<Self>, String> {
        Ok(Credentials::from_env(env)?.map(Self))
    }

    /// The `result` of a GET under the account, or why there is none.
    async fn get(&self, path: &str) -> Result<Value, String> {
        let headers = platform_worker::outbound::headers()?;
        headers
            .set("Authorization", &format!("Bearer {}", self.0.token))
            .map_err(|e| e.to_string())?;
        let url = format!("{API}/accounts/{}{path}", self.0.account);
        let request = platform_worker::outbound::request(Method::Get, &url, headers, None)?;
        let mut response =
            platform_worker::outbound::send(request, platform_worker::outbound::TIMEOUT_MS).await?;
        let status = response.status_code();
        let text = response.text().await.unwrap_or_default();
        envelope(status, &text).map_err(|reason| format!("GET /accounts/…{path}: {reason}"))
    }

    pub async fn subscription(&self) -> Result<Subscription, String> {
        parse_subscriptions(&self.get("/subscriptions").await?)
    }

    /// The billed cost (USD) of the UTC days `from` to `to`, both included.
    pub async fn billed(&self, from: UtcDay, to: UtcDay) -> Result<f64, String> {
        parse_billable(&self.get(&format!("/billable-usage?from={from}&to={to}")).await?)
    }
}

/// The API's envelope: its `result` on success, else its status and first error.
fn envelope(status: u16, text: &str) -> Result<Value, String> {
    let body: Value = serde_json::from_str(text).map_err(|_| format!("HTTP {status}, not JSON"))?;
    if (200..300).contains(&status) && body["success"] != Value::Bool(false) {
        return Ok(body["result"].clone());
    }
    let first = &body["errors"][0];
    let hint = if matches!(status, 401 | 403) {
        " (the token needs Account > Billing > Read)"
    } else {
        ""
    };
    Err(format!(
        "HTTP {status}: {} {}{hint}",
        first["code"],
        first["message"].as_str().unwrap_or("no error message")
    ))
}

/// The plan and, when the API gives it, the day of the month its billing periods start.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    pub plan: Plan,
    pub billing_day: Option<u32>,
}

/// The Workers plan from the account's subscriptions: a Workers subscription that is not a free
/// one is Paid; none at all is Free.
pub fn parse_subscriptions(result: &Value) -> Result<Subscription, String> {
    let subscriptions = result.as_array().ok_or("result is not a list of subscriptions")?;
    let workers = subscriptions.iter().find(|s| {
        let plan = &s["rate_plan"];
        let name = format!(
            "{} {}",
            plan["id"].as_str().unwrap_or(""),
            plan["public_name"].as_str().unwrap_or("")
        );
        name.to_ascii_lowercase().contains("workers")
    });
    Ok(match workers {
        None => Subscription {
            plan: Plan::Free,
            billing_day: None,
        },
        Some(found) => {
            let id = found["rate_plan"]["id"]
                .as_str()
                .unwrap_or("")
                .to_ascii_lowercase();
            Subscription {
                plan: if id.contains("free") {
                    Plan::Free
                } else {
                    Plan::Paid
                },
                // `2026-03-15T00:00:00Z`: its date is what matters.
                billing_day: found["current_period_start"]
                    .as_str()
                    .and_then(|start| UtcDay::parse(start.get(..10)?))
                    .map(UtcDay::day_of_month),
            }
        }
    })
}

/// The billed cost of billable-usage rows: the sum of their `ContractedCost` (or `BilledCost`).
pub fn parse_billable(result: &Value) -> Result<f64, String> {
    let rows = result.as_array().ok_or("result is not a list of usage rows")?;
    let mut total = 0.0;
    for (i, row) in rows.iter().enumerate() {
        let cost = row
            .get("ContractedCost")
            .or_else(|| row.get("BilledCost"))
            .and_then(Value::as_f64)
            .filter(|usd| usd.is_finite())
            .ok_or_else(|| format!("row {i} has no ContractedCost"))?;
        total += cost;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_the_plan_and_period_from_subscriptions() {
        let paid = json!([
            {"rate_plan": {"id": "cf_pro", "public_name": "Pro Plan"}, "current_period_start": "2026-02-01T00:00:00Z"},
            {"rate_plan": {"id": "workers_paid", "public_name": "Workers Paid"},
             "current_period_start": "2026-03-15T00:00:00Z", "current_period_end": "2026-04-15T00:00:00Z"},
        ]);
        let found = parse_subscriptions(&paid).unwrap();
        assert_eq!(found.plan, Plan::Paid);
        assert_eq!(found.billing_day, Some(15));
        assert_eq!(parse_subscriptions(&json!([])).unwrap().plan, Plan::Free);
        assert!(parse_subscriptions(&json!({"x": 1})).is_err());
    }

    #[test]
    fn sums_the_billed_cost_and_refuses_rows_without_one() {
        let rows = json!([{"ServiceName": "Workers", "ContractedCost": 1.25}, {"ServiceName": "KV", "ContractedCost": 2.5}]);
        assert_eq!(parse_billable(&rows).unwrap(), 3.75);
        assert!(parse_billable(&json!([{"ServiceName": "KV"}]))
            .unwrap_err()
            .contains("row 0"));
    }

    #[test]
    fn an_error_answer_says_what_the_token_lacks() {
        let denied =
            r#"{"success":false,"errors":[{"code":10000,"message":"Authentication error"}],"result":null}"#;
        let reason = envelope(403, denied).unwrap_err();
        assert!(
            reason.contains("Billing > Read") && reason.contains("10000"),
            "{reason}"
        );
        assert_eq!(
            envelope(200, r#"{"success":true,"result":[1]}"#).unwrap(),
            json!([1])
        );
    }
}
