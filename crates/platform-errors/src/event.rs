//! A tail event (a Workers `TraceItem`) read leniently from JSON: every field is optional and a
//! field of the wrong type reads as absent, so one odd event never fails its batch.

use serde_json::Value;

/// One `exceptions[]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    pub name: String,
    pub message: String,
}

/// One `logs[]` entry: its level and its arguments joined as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub level: String,
    /// The first argument as text (the structured logger writes one JSON string).
    pub first: String,
    /// Every argument as text, joined with spaces.
    pub text: String,
}

/// What the invocation was.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trigger {
    pub url: Option<String>,
    pub method: Option<String>,
    pub status: Option<u16>,
    pub cron: Option<String>,
    pub queue: Option<String>,
}

/// The fields the collector uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TailEvent {
    pub script: Option<String>,
    pub outcome: String,
    pub timestamp: Option<u64>,
    pub version: Option<String>,
    pub trigger: Trigger,
    pub exceptions: Vec<Exception>,
    pub logs: Vec<LogLine>,
}

/// How an error reached the collector; names its `cf:error:*` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorKind {
    Exception,
    CpuLimit,
    MemoryLimit,
    Canceled,
    ScriptNotFound,
    StreamDisconnected,
    /// An outcome this collector does not know yet.
    UnknownOutcome,
    /// An `error` log of an invocation that did not fail.
    SoftError,
    /// A `warn` log: goes to the daily digest.
    Warning,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exception => "exception",
            Self::CpuLimit => "cpu-limit",
            Self::MemoryLimit => "memory-limit",
            Self::Canceled => "canceled",
            Self::ScriptNotFound => "script-not-found",
            Self::StreamDisconnected => "stream-disconnected",
            Self::UnknownOutcome => "unknown-outcome",
            Self::SoftError => "soft-error",
            Self::Warning => "warning",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [
            Self::Exception,
            Self::CpuLimit,
            Self::MemoryLimit,
            Self::Canceled,
            Self::ScriptNotFound,
            Self::StreamDisconnected,
            Self::UnknownOutcome,
            Self::SoftError,
            Self::Warning,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == raw)
    }

    /// The kind of a failed invocation's outcome; `None` for `ok` (and a missing outcome).
    pub fn of_outcome(outcome: &str) -> Option<Self> {
        match outcome {
            "" | "ok" => None,
            "exception" => Some(Self::Exception),
            "exceededCpu" => Some(Self::CpuLimit),
            "exceededMemory" => Some(Self::MemoryLimit),
            "canceled" => Some(Self::Canceled),
            "scriptNotFound" => Some(Self::ScriptNotFound),
            "responseStreamDisconnected" => Some(Self::StreamDisconnected),
            _ => Some(Self::UnknownOutcome),
        }
    }
}

fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// One log argument as text: strings as they are, anything else as JSON.
fn argument(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl TailEvent {
    /// Reads an event; `None` only when it is not a JSON object at all.
    pub fn from_json(value: &Value) -> Option<Self> {
        let object = value.as_object()?;
        let event = object.get("event").and_then(Value::as_object);
        let request = event.and_then(|e| e.get("request")).and_then(Value::as_object);
        let trigger = Trigger {
            url: text(request.and_then(|r| r.get("url"))),
            method: text(request.and_then(|r| r.get("method"))),
            status: event
                .and_then(|e| e.get("response"))
                .and_then(|r| r.get("status"))
                .and_then(Value::as_u64)
                .and_then(|s| u16::try_from(s).ok()),
            cron: text(event.and_then(|e| e.get("cron"))),
            queue: text(event.and_then(|e| e.get("queue"))),
        };
        let exceptions = object
            .get("exceptions")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(Value::as_object)
                    .map(|e| Exception {
                        name: text(e.get("name")).unwrap_or_else(|| "Error".to_owned()),
                        message: text(e.get("message")).unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let logs = object
            .get("logs")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(Value::as_object)
                    .map(|log| {
                        let args: Vec<String> = match log.get("message") {
                            Some(Value::Array(args)) => args.iter().map(argument).collect(),
                            Some(other) => vec![argument(other)],
                            None => Vec::new(),
                        };
                        LogLine {
                            level: text(log.get("level")).unwrap_or_default(),
                            first: args.first().cloned().unwrap_or_default(),
                            text: args.join(" "),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(Self {
            script: text(object.get("scriptName")).filter(|s| !s.is_empty()),
            outcome: text(object.get("outcome")).unwrap_or_default(),
            timestamp: object
                .get("eventTimestamp")
                .and_then(Value::as_f64)
                .map(|t| t as u64),
            version: object
                .get("scriptVersion")
                .and_then(|v| v.get("id"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            trigger,
            exceptions,
            logs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_a_trace_item_and_tolerates_wrong_types() {
        let event = TailEvent::from_json(&json!({
            "scriptName": null, "outcome": "exception", "eventTimestamp": 1000,
            "event": {"request": {"url": "https://a.example/x?token=1", "method": "GET"}},
            "exceptions": [{"name": "TypeError", "message": "x is undefined"}, 5],
            "logs": "not a list"
        }))
        .unwrap();
        assert_eq!(event.script, None);
        assert_eq!(event.exceptions.len(), 1);
        assert!(event.logs.is_empty());
        assert_eq!(event.trigger.method.as_deref(), Some("GET"));
        assert!(TailEvent::from_json(&json!("nope")).is_none());
    }

    #[test]
    fn outcomes_map_to_kinds() {
        assert_eq!(ErrorKind::of_outcome("ok"), None);
        assert_eq!(ErrorKind::of_outcome("exceededCpu"), Some(ErrorKind::CpuLimit));
        assert_eq!(
            ErrorKind::of_outcome("somethingNew"),
            Some(ErrorKind::UnknownOutcome)
        );
        assert_eq!(ErrorKind::parse("soft-error"), Some(ErrorKind::SoftError));
    }
}
