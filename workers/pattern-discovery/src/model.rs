//! The optional Workers AI binding (`AI`): one call per run, shown the mined clusters by id, and
//! only while the platform's own breaker for it (`CONFIG:FEATURE:platform:patterns:model:STATUS`)
//! is not `STOP`. What it answers is read by cluster id and checked like any mined rule; without
//! the binding nothing changes.

use js_sys::{Function, Promise, Reflect};
use platform_core::FeatureKey;
use platform_kv::families::ConfigFeatureStatus;
use platform_kv::value::BreakerSignal;
use platform_kv::PlatformWorker;
use platform_patterns::ai;
use platform_patterns::discovery::{ClusterView, Source, Suggestion};
use platform_patterns::safety::Limits;
use platform_patterns::StoredError;
use serde::Serialize;
use serde_json::{json, Value};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::Env;

/// The binding's name in the wrangler config.
pub const AI_BINDING: &str = "AI";
/// The model asked; a small instruction model with JSON answers.
pub const MODEL: &str = "@cf/meta/llama-3.1-8b-instruct";
/// The breaker that stops the model's calls (the platform's own budget guard).
pub const FEATURE: &str = "platform:patterns:model";

/// What the model did in a run.
#[derive(Debug, Default, Serialize)]
pub struct ModelReport {
    pub called: bool,
    pub proposals: usize,
    /// Proposals left out (unknown cluster, bad rule type) and failures, each with why.
    pub ignored: Vec<String>,
}

pub struct Model {
    binding: JsValue,
    env: Env,
}

impl Model {
    /// The model, when the binding is configured.
    pub fn of(env: &Env) -> Option<Self> {
        let binding = Reflect::get(env, &JsValue::from_str(AI_BINDING)).ok()?;
        (binding.is_object()).then(|| Self {
            binding,
            env: env.clone(),
        })
    }

    async fn stopped(&self) -> Result<bool, String> {
        let store = platform_worker::store(&self.env, PlatformWorker::PatternDiscovery)
            .map_err(|e| e.log_message())?;
        let feature = FeatureKey::parse(FEATURE).map_err(|e| e.to_string())?;
        let key = ConfigFeatureStatus::key(&feature).map_err(|e| e.to_string())?;
        Ok(matches!(store.get(&key).await, Ok(Some(BreakerSignal::Stop))))
    }

    async fn call(&self, input: &Value) -> Result<Value, String> {
        let run: Function = Reflect::get(&self.binding, &JsValue::from_str("run"))
            .ok()
            .and_then(|f| f.dyn_into().ok())
            .ok_or("the AI binding has no run method")?;
        let input = js_sys::JSON::parse(&input.to_string()).map_err(|_| "the prompt is not JSON")?;
        // Reflect.apply, not Function.call: an RPC stub (a service binding with a run method)
        // would take `call` for a method of its own.
        let args = js_sys::Array::of2(&JsValue::from_str(MODEL), &input);
        let promise = Reflect::apply(&run, &self.binding, &args)
            .map_err(|e| format!("the model call failed: {e:?}"))?;
        let answer = JsFuture::from(Promise::resolve(&promise))
            .await
            .map_err(|e| format!("the model answered an error: {e:?}"))?;
        let text = js_sys::JSON::stringify(&answer)
            .ok()
            .and_then(|s| s.as_string())
            .ok_or("the answer is not JSON")?;
        serde_json::from_str(&text).map_err(|e| format!("the answer is not JSON: {e}"))
    }

    /// Proposals for the clusters, each checked against the stored errors like a mined rule.
    pub async fn suggest(
        &self,
        clusters: &[ClusterView],
        corpus: &[StoredError],
        limits: &Limits,
    ) -> (Vec<Suggestion>, ModelReport) {
        let mut report = ModelReport::default();
        if clusters.is_empty() {
            return (Vec::new(), report);
        }
        match self.stopped().await {
            Ok(false) => {}
            Ok(true) => {
                report.ignored.push(format!("the breaker of {FEATURE} is STOP"));
                return (Vec::new(), report);
            }
            Err(error) => {
                report.ignored.push(error);
                return (Vec::new(), report);
            }
        }
        report.called = true;
        let answer = match self.call(&json!({ "messages": ai::messages(clusters) })).await {
            Ok(answer) => answer,
            Err(error) => {
                report.ignored.push(error);
                return (Vec::new(), report);
            }
        };
        let proposals = ai::read(&answer, clusters, &mut report.ignored);
        report.proposals = proposals.len();
        let suggestions = proposals
            .into_iter()
            .filter_map(|p| {
                let cluster = clusters.iter().find(|c| c.id == p.cluster)?;
                Some(Suggestion::checked(
                    cluster,
                    p.rule,
                    &p.category,
                    Source::Model,
                    corpus,
                    limits,
                ))
            })
            .collect();
        (suggestions, report)
    }
}
