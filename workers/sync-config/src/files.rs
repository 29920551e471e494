//! The body of `POST /sync`: both files as JSON documents (or as JSON text in a string), read
//! into documents for [`platform_core::config::validate`]. YAML is read by the operator's tooling
//! (`scripts/sync-config`), not here: a YAML parser would be a third of this worker's wasm. No
//! runtime here: unit-tested natively.

use platform_core::config::{ConfigFile, Problem};
use serde_json::Value;

/// What an operator who sent YAML should do instead.
pub const YAML_HINT: &str = "this worker reads JSON documents; YAML is read by scripts/sync-config, \
     which posts services.yaml and budgets.yaml as JSON";

/// The largest `POST /sync` body (1 MiB): both files of a large account take a few tens of KB.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Why a body could not be read at all (answered 400, before any validation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadBody(pub String);

/// `{"services": <file>, "budgets": <file>}`: each file as a JSON document, or as its JSON text.
pub fn read_body(body: &str) -> Result<Result<(Value, Value), Vec<Problem>>, BadBody> {
    let body: Value = platform_core::json::parse(body).map_err(|e| {
        BadBody(format!(
            "the body must be JSON {{\"services\": ..., \"budgets\": ...}}: {e}; {YAML_HINT}"
        ))
    })?;
    let Value::Object(mut fields) = body else {
        return Err(BadBody(
            "the body must be a JSON object {\"services\": ..., \"budgets\": ...}".into(),
        ));
    };
    if let Some(unknown) = fields
        .keys()
        .find(|k| !matches!(k.as_str(), "services" | "budgets"))
    {
        return Err(BadBody(format!(
            "unknown field {unknown:?}; the body has \"services\" and \"budgets\""
        )));
    }
    let mut problems = Vec::new();
    let mut document = |file: ConfigFile, field: &str| match fields.remove(field) {
        None => Err(BadBody(format!("missing {field:?}: the content of {file}"))),
        Some(Value::String(text)) => Ok(parse_text(file, &text).unwrap_or_else(|problem| {
            problems.push(problem);
            Value::Null
        })),
        Some(value) => Ok(value),
    };
    let services = document(ConfigFile::Services, "services")?;
    let budgets = document(ConfigFile::Budgets, "budgets")?;
    Ok(if problems.is_empty() {
        Ok((services, budgets))
    } else {
        Err(problems)
    })
}

/// A file's JSON text as a document; empty text is no document. Text that is not JSON at all
/// (YAML, most likely) is told where YAML is read.
pub fn parse_text(file: ConfigFile, text: &str) -> Result<Value, Problem> {
    let trimmed = text.trim_start();
    if trimmed.is_empty() {
        return Ok(Value::Null);
    }
    // JSON documents here are objects: `{"` or `{}`. A YAML flow mapping (`{projects: ...}`) is not.
    let json = trimmed
        .strip_prefix('{')
        .is_some_and(|rest| rest.trim_start().starts_with(['"', '}']));
    if !json {
        return Err(Problem::new(file, "", format!("is not JSON: {YAML_HINT}")));
    }
    platform_core::json::parse(text).map_err(|e| Problem::new(file, "", format!("not valid JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn json_text_and_objects_are_accepted() {
        let body = json!({
            "services": "{\"projects\": {}}",
            "budgets": {"defaults": {"daily": {"d1_writes": 1}}},
        });
        let (services, budgets) = read_body(&body.to_string()).unwrap().unwrap();
        assert_eq!(services, json!({"projects": {}}));
        assert_eq!(budgets["defaults"]["daily"]["d1_writes"], json!(1));
        let empty = json!({"services": "", "budgets": " \n"});
        assert_eq!(
            read_body(&empty.to_string()).unwrap().unwrap(),
            (Value::Null, Value::Null)
        );
    }

    #[test]
    fn yaml_text_is_a_problem_of_its_file_that_says_where_yaml_is_read() {
        for yaml in [
            "# limits\ndefaults:\n  daily: {d1_writes: 100_000}\n",
            "{projects: {app: {repository: a/b}}}",
            "projects: [unclosed",
        ] {
            let body = json!({"services": yaml, "budgets": {}});
            let problems = read_body(&body.to_string()).unwrap().unwrap_err();
            assert_eq!(problems.len(), 1, "{problems:?}");
            assert_eq!(problems[0].file, ConfigFile::Services);
            assert!(
                problems[0].reason.contains("YAML is read by scripts/sync-config"),
                "{problems:?}"
            );
        }
    }

    #[test]
    fn unreadable_json_is_a_problem_of_its_file() {
        let body = json!({"services": {}, "budgets": "{\"a\": }"});
        let problems = read_body(&body.to_string()).unwrap().unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].file, ConfigFile::Budgets);
        assert!(problems[0].reason.starts_with("not valid JSON"), "{problems:?}");
        assert!(!problems[0].reason.contains('\n'), "{problems:?}");
    }

    #[test]
    fn a_key_given_twice_is_refused_naming_where() {
        let BadBody(message) =
            read_body("{\"services\": {}, \"services\": {}, \"budgets\": {}}").unwrap_err();
        assert!(
            message.contains("duplicate key \"services\" at line 1"),
            "{message}"
        );
        let body = json!({"services": {}, "budgets": "{\"defaults\": {}, \"defaults\": {}}"});
        let problems = read_body(&body.to_string()).unwrap().unwrap_err();
        assert!(
            problems[0].reason.contains("duplicate key \"defaults\""),
            "{problems:?}"
        );
    }

    #[test]
    fn a_malformed_body_is_refused_with_what_was_wrong() {
        for (body, reason) in [
            ("not json", "must be JSON"),
            ("projects:\n  app: {}\n", "YAML is read by scripts/sync-config"),
            ("[1]", "JSON object"),
            ("{\"services\": \"{}\"}", "missing \"budgets\""),
            (
                "{\"services\": 1, \"budgets\": 2, \"x\": 3}",
                "unknown field \"x\"",
            ),
        ] {
            let BadBody(message) = read_body(body).unwrap_err();
            assert!(message.contains(reason), "{body}: {message}");
        }
    }
}
