//! A tail event (a Workers `TraceItem`) read leniently from JSON: every field is optional and a
//! field of the wrong type reads as absent, so one odd event never fails its batch.

use std::borrow::Cow;

use serde_json::Value;

/// Nesting kept when an event is read: deeper parts (a log argument nested 200 levels) are
/// replaced by [`TRUNCATED`], so the rest of the event is still read.
pub const MAX_DEPTH: usize = 48;
pub const TRUNCATED: &str = "[truncated: nested too deep]";

/// `json` with every value nested deeper than `max_depth` replaced by the string
/// [`TRUNCATED`]. One pass, no recursion; text that is not JSON comes out unchanged where it
/// is not nested too deep (the parser then says what is wrong with it).
pub fn truncate_depth(json: &str, max_depth: usize) -> Cow<'_, str> {
    let bytes = json.as_bytes();
    let mut out: Option<String> = None;
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' if depth == max_depth => {
                // Skip the whole value, strings included.
                let (mut inner, mut j, mut s, mut e) = (0usize, i, false, false);
                while j < bytes.len() {
                    let c = bytes[j];
                    j += 1;
                    if s {
                        match (e, c) {
                            (true, _) => e = false,
                            (false, b'\\') => e = true,
                            (false, b'"') => s = false,
                            _ => {}
                        }
                        continue;
                    }
                    match c {
                        b'"' => s = true,
                        b'{' | b'[' => inner += 1,
                        b'}' | b']' => {
                            inner -= 1;
                            if inner == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                let text = out.get_or_insert_with(|| String::with_capacity(json.len()));
                text.push_str(&json[copied..i]);
                text.push('"');
                text.push_str(TRUNCATED);
                text.push('"');
                copied = j;
                i = j;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    match out {
        Some(mut text) => {
            text.push_str(&json[copied..]);
            Cow::Owned(text)
        }
        None => Cow::Borrowed(json),
    }
}

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
    /// Reads an event from its JSON text, parts nested too deep truncated; `Err` says why the
    /// text is no event at all.
    pub fn from_json_text(json: &str) -> Result<Self, String> {
        let value: Value = serde_json::from_str(&truncate_depth(json, MAX_DEPTH))
            .map_err(|e| format!("the event is not JSON: {e}"))?;
        Self::from_json(&value).ok_or_else(|| "the event is not a JSON object".to_owned())
    }

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
    fn parts_nested_too_deep_are_truncated_and_the_rest_is_read() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let text = format!(
            r#"{{"scriptName":"shop","outcome":"ok","logs":[{{"level":"error","message":["db down",{deep},"x\"[{{"]}}]}}"#
        );
        assert!(
            serde_json::from_str::<Value>(&text).is_err(),
            "serde refuses 200 levels"
        );
        let event = TailEvent::from_json_text(&text).unwrap();
        assert_eq!(event.script.as_deref(), Some("shop"));
        assert_eq!(event.logs[0].first, "db down");
        assert!(event.logs[0].text.contains(TRUNCATED), "{}", event.logs[0].text);
        assert!(
            event.logs[0].text.ends_with("x\"[{"),
            "strings are not counted: {}",
            event.logs[0].text
        );
        assert_eq!(truncate_depth(r#"{"a":[1]}"#, 4), r#"{"a":[1]}"#);
        assert_eq!(
            truncate_depth(r#"{"a":[[1],2]}"#, 2),
            format!(r#"{{"a":["{TRUNCATED}",2]}}"#)
        );
        assert!(TailEvent::from_json_text("[1").is_err());
        assert!(TailEvent::from_json_text("7").is_err());
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
