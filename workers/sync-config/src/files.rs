//! The body of `POST /sync`: both files, as YAML or JSON text or as JSON objects, read into
//! documents for [`platform_core::config::validate`]. No runtime here: unit-tested natively.

use platform_core::config::{ConfigFile, Problem};
use serde_json::Value;

/// Why a body could not be read at all (answered 400, before any validation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadBody(pub String);

/// `{"services": <file>, "budgets": <file>}`: each file as its text (YAML or JSON) or as an
/// already-parsed JSON object.
pub fn read_body(body: &str) -> Result<Result<(Value, Value), Vec<Problem>>, BadBody> {
    let body: Value = serde_json::from_str(body).map_err(|e| {
        BadBody(format!(
            "the body must be JSON {{\"services\": ..., \"budgets\": ...}}: {e}"
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

/// A file's text as a document: YAML, or JSON (nearly a subset of YAML, but a JSON file with a
/// mistake is better explained by JSON's own parser).
pub fn parse_text(file: ConfigFile, text: &str) -> Result<Value, Problem> {
    let trimmed = text.trim_start();
    if trimmed.is_empty() {
        return Ok(Value::Null);
    }
    let yaml = || {
        serde_saphyr::from_str::<Value>(text).map_err(|e| {
            // The first line names the problem and where; the rest is a source snippet.
            let message = e.to_string();
            let first = message.lines().next().unwrap_or("unreadable").trim();
            Problem::new(file, "", format!("not valid YAML: {first}"))
        })
    };
    // JSON starts with `{"` (or is `{}`); a YAML flow mapping (`{projects: ...}`) does not.
    let json = trimmed
        .strip_prefix('{')
        .is_some_and(|rest| rest.trim_start().starts_with(['"', '}']));
    if json {
        return serde_json::from_str(text)
            .map_err(|e| Problem::new(file, "", format!("not valid JSON: {e}")));
    }
    yaml()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn yaml_with_comments_and_separators_reads_as_the_json_it_means() {
        let yaml = "# limits\ndefaults:\n  daily:\n    d1_writes: 100_000   # a day\n    kv_reads: 5000\n  warning_thresholds: [70, 90]\nfeatures:\n  \"a:b:c\": {daily: {cpu_ms: '1_000'}}\n";
        let value = parse_text(ConfigFile::Budgets, yaml).unwrap();
        let limit = &value["defaults"]["daily"]["d1_writes"];
        // YAML 1.2 reads 100_000 as text; the validator reads either form.
        assert!(limit == &json!(100_000) || limit == &json!("100_000"), "{limit}");
        assert_eq!(value["defaults"]["daily"]["kv_reads"], json!(5000));
        assert_eq!(value["defaults"]["warning_thresholds"], json!([70, 90]));
        assert_eq!(value["features"]["a:b:c"]["daily"]["cpu_ms"], json!("1_000"));
    }

    #[test]
    fn the_example_config_is_valid() {
        let services = parse_text(
            ConfigFile::Services,
            include_str!("../../../config/services.yaml"),
        );
        let budgets = parse_text(ConfigFile::Budgets, include_str!("../../../config/budgets.yaml"));
        let config = platform_core::config::validate(&services.unwrap(), &budgets.unwrap())
            .unwrap_or_else(|problems| panic!("{problems:#?}"));
        assert_eq!(config.services.projects.len(), 2);
        assert_eq!(config.settings_rows().len(), 4);
        let ocr = platform_core::FeatureKey::parse("my-app:scanner:ocr").unwrap();
        let limits = config.budgets.feature_limits(&ocr);
        assert_eq!(limits.daily.get(platform_core::Metric::D1Writes), Some(200_000));
        assert_eq!(limits.daily.get(platform_core::Metric::KvReads), Some(100_000));
    }

    #[test]
    fn a_yaml_flow_mapping_is_not_mistaken_for_json() {
        let value = parse_text(ConfigFile::Services, "{projects: {app: {repository: a/b}}}").unwrap();
        assert_eq!(value["projects"]["app"]["repository"], json!("a/b"));
    }

    #[test]
    fn json_text_and_objects_are_accepted() {
        let body = json!({
            "services": "{\"projects\": {}}",
            "budgets": {"defaults": {"daily": {"d1_writes": 1}}},
        });
        let (services, budgets) = read_body(&body.to_string()).unwrap().unwrap();
        assert_eq!(services, json!({"projects": {}}));
        assert_eq!(budgets["defaults"]["daily"]["d1_writes"], json!(1));
    }

    #[test]
    fn unreadable_files_are_problems_of_their_file() {
        let body = json!({"services": "projects: [unclosed", "budgets": "{\"a\": }"});
        let problems = read_body(&body.to_string()).unwrap().unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(problems[0].file, ConfigFile::Services);
        assert!(problems[0].reason.starts_with("not valid YAML"), "{problems:?}");
        assert!(!problems[0].reason.contains('\n'), "{problems:?}");
        assert_eq!(problems[1].file, ConfigFile::Budgets);
        assert!(problems[1].reason.starts_with("not valid JSON"), "{problems:?}");
    }

    #[test]
    fn a_malformed_body_is_refused_with_what_was_wrong() {
        for (body, reason) in [
            ("not json", "must be JSON"),
            ("[1]", "JSON object"),
            ("{\"services\": \"projects: {}\"}", "missing \"budgets\""),
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
