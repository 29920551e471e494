//! `platform wire PATH`: connects an application Worker to the platform by adding to its wrangler
//! config (`wrangler.toml`, `wrangler.json` or `wrangler.jsonc`) the three things the consumer
//! protocol needs: the `PLATFORM_CACHE` KV binding (breaker keys), the `PLATFORM_TELEMETRY` queue
//! producer (telemetry and heartbeats) and the error collector as tail consumer (errors). Comments
//! and layout are kept (toml_edit, jsonc-parser's CST); a second run changes nothing; `--check`
//! changes nothing and exits 1 when something is missing, for CI.
//!
//! What to add is worked out once, on the file read as plain data ([`plan`]); each format then
//! only carries out the changes on its editable document.

use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::Value;

use super::render::Output;
use super::target::DEFAULT_ENV;
use super::{Exit, Failure};

#[derive(Debug, Args)]
pub struct WireArgs {
    /// The application's wrangler.toml, wrangler.json or wrangler.jsonc.
    pub path: PathBuf,
    /// Change nothing; exit 1 when the config lacks something (for CI).
    #[arg(long)]
    pub check: bool,
    /// Wire the application's `[env.NAME]` section (bindings are not inherited by environments).
    #[arg(long, value_name = "NAME")]
    pub app_env: Option<String>,
    /// The platform's KV namespace id (default: PLATFORM_CACHE's id in DIR/platform-usage.toml).
    #[arg(long, env = "PLATFORM_KV_ID", value_name = "ID")]
    pub kv_id: Option<String>,
    /// The platform's wrangler configs, read for the namespace id, queue and collector names.
    #[arg(long, default_value = "wrangler", value_name = "DIR")]
    pub platform_dir: PathBuf,
}

/// An entry one of the config's lists must hold: the entry whose `key` field has `key`'s value,
/// with `fields`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Want {
    /// Where the list is, under the section wired: `["queues", "producers"]`.
    pub list: Vec<String>,
    pub key: (String, String),
    pub fields: Vec<(String, String)>,
}

/// What wiring changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A new entry (key field first, then the fields) at the end of the list, made if missing.
    Add {
        list: Vec<String>,
        entry: Vec<(String, String)>,
    },
    /// One field of the list's entry `index` set to `value` (it was `old`).
    Set {
        list: Vec<String>,
        index: usize,
        field: String,
        value: String,
        old: Option<String>,
    },
}

impl Change {
    pub fn describe(&self) -> String {
        match self {
            Change::Add { list, entry } => {
                let fields: Vec<String> = entry.iter().map(|(k, v)| format!("{k} = {v:?}")).collect();
                format!("+ {}: {{ {} }}", list.join("."), fields.join(", "))
            }
            Change::Set {
                list,
                index,
                field,
                value,
                old,
            } => format!(
                "~ {}[{index}].{field}: {} -> {value:?}",
                list.join("."),
                old.as_deref()
                    .map_or_else(|| "(none)".to_owned(), |o| format!("{o:?}"))
            ),
        }
    }
}

/// The platform's names for one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub kv_id: String,
    pub queue: String,
    pub collector: String,
}

pub fn wants(facts: &Facts) -> Vec<Want> {
    let want = |list: &[&str], key: (&str, &str), fields: &[(&str, &str)]| Want {
        list: list.iter().map(|s| (*s).to_owned()).collect(),
        key: (key.0.to_owned(), key.1.to_owned()),
        fields: fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    };
    vec![
        want(
            &["kv_namespaces"],
            ("binding", "PLATFORM_CACHE"),
            &[("id", &facts.kv_id)],
        ),
        want(
            &["queues", "producers"],
            ("binding", "PLATFORM_TELEMETRY"),
            &[("queue", &facts.queue)],
        ),
        want(&["tail_consumers"], ("service", &facts.collector), &[]),
    ]
}

fn lookup<'a>(document: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter()
        .try_fold(document, |value, segment| value.get(segment))
}

/// The changes that make `document` (the config as data) hold every entry of `wants` under
/// `base` (`[]`, or `["env", NAME]`).
pub fn plan(document: &Value, base: &[String], wants: &[Want]) -> Result<Vec<Change>, Failure> {
    let mut changes = Vec::new();
    for want in wants {
        let list: Vec<String> = base.iter().chain(&want.list).cloned().collect();
        let (key_field, key_value) = &want.key;
        let items = match lookup(document, &list) {
            None => &Vec::new(),
            Some(Value::Array(items)) => items,
            Some(_) => {
                return Err(Failure::findings(format!(
                    "`{}` is not a list in this config",
                    list.join(".")
                )))
            }
        };
        let found = items
            .iter()
            .position(|item| item.get(key_field).and_then(Value::as_str) == Some(key_value));
        match found {
            None => {
                let mut entry = vec![want.key.clone()];
                entry.extend(want.fields.iter().cloned());
                changes.push(Change::Add { list, entry });
            }
            Some(index) => {
                for (field, value) in &want.fields {
                    let old = items[index].get(field).and_then(Value::as_str);
                    if old != Some(value.as_str()) {
                        changes.push(Change::Set {
                            list: list.clone(),
                            index,
                            field: field.clone(),
                            value: value.clone(),
                            old: old.map(str::to_owned),
                        });
                    }
                }
            }
        }
    }
    Ok(changes)
}

/// A wrangler config's format, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Toml,
    Jsonc,
}

impl Format {
    pub fn of(path: &Path) -> Result<Self, Failure> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("toml") => Ok(Self::Toml),
            Some("json" | "jsonc") => Ok(Self::Jsonc),
            _ => Err(Failure::usage(format!(
                "{}: not a wrangler config (wrangler.toml, wrangler.json or wrangler.jsonc)",
                path.display()
            ))),
        }
    }
}

/// The config as plain data, for [`plan`].
pub fn read_data(format: Format, text: &str) -> Result<Value, String> {
    match format {
        Format::Toml => toml::from_str::<Value>(text).map_err(|e| e.to_string()),
        Format::Jsonc => {
            jsonc_parser::parse_to_serde_value::<Option<Value>>(text, &jsonc_parser::ParseOptions::default())
                .map(|v| v.unwrap_or(Value::Object(Default::default())))
                .map_err(|e| e.to_string())
        }
    }
}

/// `text` with `changes` made, everything else as it was.
pub fn apply(format: Format, text: &str, changes: &[Change]) -> Result<String, String> {
    match format {
        Format::Toml => toml_doc::apply(text, changes),
        Format::Jsonc => jsonc_doc::apply(text, changes),
    }
}

mod toml_doc {
    use toml_edit::{ArrayOfTables, DocumentMut, InlineTable, Item, Table, Value};

    use super::Change;

    /// The table-like item at `path`, made (implicit, so no empty header is written) if missing.
    fn table_at<'a>(
        doc: &'a mut DocumentMut,
        path: &[String],
    ) -> Result<&'a mut dyn toml_edit::TableLike, String> {
        let mut table: &mut dyn toml_edit::TableLike = doc.as_table_mut();
        for segment in path {
            let item = table.entry(segment).or_insert_with(|| {
                let mut new = Table::new();
                new.set_implicit(true);
                Item::Table(new)
            });
            table = item
                .as_table_like_mut()
                .ok_or_else(|| format!("`{segment}` is not a table"))?;
        }
        Ok(table)
    }

    fn inline(entry: &[(String, String)]) -> InlineTable {
        let mut table = InlineTable::new();
        for (key, value) in entry {
            table.insert(key, value.as_str().into());
        }
        table.fmt();
        table
    }

    pub fn apply(text: &str, changes: &[Change]) -> Result<String, String> {
        let mut doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| e.to_string())?;
        let mut added = 0;
        for change in changes {
            let (list, name) = match change {
                Change::Add { list, .. } | Change::Set { list, .. } => list.split_at(list.len() - 1),
            };
            let name = &name[0];
            // Lists under a sub-table (`queues.producers`) are written as `[[...]]` tables, as
            // wrangler's docs write them; top-level ones inline, as one line each.
            let nested = list.len() > usize::from(list.first().is_some_and(|s| s == "env")) * 2;
            let parent = table_at(&mut doc, list)?;
            if parent.get(name).is_none() {
                let fresh = if nested {
                    Item::ArrayOfTables(ArrayOfTables::new())
                } else {
                    Item::Value(Value::Array(toml_edit::Array::new()))
                };
                parent.insert(name, fresh);
            }
            let item = parent.get_mut(name).ok_or("the list vanished")?;
            match (change, item) {
                (Change::Add { entry, .. }, Item::ArrayOfTables(tables)) => {
                    let mut table = Table::new();
                    for (key, value) in entry {
                        table.insert(key, toml_edit::value(value.as_str()));
                    }
                    table.set_position(Some(NEW_TABLES + added));
                    added += 1;
                    tables.push(table);
                }
                (Change::Add { entry, .. }, Item::Value(Value::Array(array))) => {
                    push_entry(array, inline(entry))
                }
                (
                    Change::Set {
                        index, field, value, ..
                    },
                    Item::ArrayOfTables(tables),
                ) => {
                    let table = tables.get_mut(*index).ok_or("no such entry")?;
                    table.insert(field, toml_edit::value(value.as_str()));
                }
                (
                    Change::Set {
                        index, field, value, ..
                    },
                    Item::Value(Value::Array(array)),
                ) => {
                    let entry = array
                        .get_mut(*index)
                        .and_then(Value::as_inline_table_mut)
                        .ok_or("an entry of the list is not a table")?;
                    match entry.get_mut(field) {
                        Some(slot) => {
                            let decor = slot.decor().clone();
                            *slot = value.as_str().into();
                            *slot.decor_mut() = decor;
                        }
                        None => {
                            entry.insert(field, value.as_str().into());
                        }
                    }
                }
                _ => return Err(format!("`{name}` is not a list")),
            }
        }
        place_before_environments(&mut doc);
        Ok(doc.to_string())
    }

    /// Positions of the `[[...]]` tables wiring adds, until [`place_before_environments`] places them.
    const NEW_TABLES: isize = isize::MAX / 2;

    /// Appends an entry to an inline list as the list is laid out: on a line of its own in a
    /// multi-line list, the comment at the end of the last entry's line staying there.
    fn push_entry(array: &mut toml_edit::Array, entry: InlineTable) {
        let trailing = array.trailing().as_str().unwrap_or("").to_owned();
        let indent = array
            .iter()
            .last()
            .and_then(|last| last.decor().prefix().and_then(|p| p.as_str()))
            .and_then(|prefix| prefix.rsplit_once('\n').map(|(_, indent)| indent.to_owned()));
        array.push(entry);
        let (Some((line_end, closing)), Some(indent)) = (trailing.rsplit_once('\n'), indent) else {
            return;
        };
        if let Some(pushed) = array.iter_mut().last() {
            pushed.decor_mut().set_prefix(format!("{line_end}\n{indent}"));
            pushed.decor_mut().set_suffix("");
        }
        array.set_trailing(format!("\n{closing}"));
        array.set_trailing_comma(true);
    }

    fn each_table(table: &mut Table, f: &mut impl FnMut(&mut Table)) {
        for (_, item) in table.iter_mut() {
            match item {
                Item::Table(child) => {
                    f(child);
                    each_table(child, f);
                }
                Item::ArrayOfTables(children) => {
                    for child in children.iter_mut() {
                        f(child);
                        each_table(child, f);
                    }
                }
                _ => {}
            }
        }
    }

    /// New top-level tables go just before the first `[env.*]` header, where a reader of the
    /// top level looks for them, rather than after every environment.
    fn place_before_environments(doc: &mut DocumentMut) {
        let mut first_env: Option<isize> = None;
        if let Some(Item::Table(env)) = doc.as_table_mut().get_mut("env") {
            let mut note = |t: &mut Table| {
                if let Some(p) = t.position().filter(|p| *p < NEW_TABLES) {
                    first_env = Some(first_env.map_or(p, |f| f.min(p)));
                }
            };
            note(env);
            each_table(env, &mut note);
        }
        let mut new = 0;
        each_table(doc.as_table_mut(), &mut |t| {
            if t.position().is_some_and(|p| p >= NEW_TABLES) {
                new += 1;
            }
        });
        let Some(first_env) = first_env else { return };
        each_table(doc.as_table_mut(), &mut |t| match t.position() {
            Some(p) if p >= NEW_TABLES => t.set_position(Some(first_env + (p - NEW_TABLES))),
            Some(p) if p >= first_env => t.set_position(Some(p + new)),
            _ => {}
        });
    }
}

mod jsonc_doc {
    use jsonc_parser::cst::{CstInputValue, CstObject, CstRootNode};
    use jsonc_parser::ParseOptions;

    use super::Change;

    fn object_at(root: &CstRootNode, path: &[String]) -> Result<CstObject, String> {
        let mut object = root.object_value_or_set();
        for segment in path {
            object = object
                .object_value_or_create(segment)
                .ok_or_else(|| format!("`{segment}` is not an object"))?;
        }
        Ok(object)
    }

    fn entry_value(entry: &[(String, String)]) -> CstInputValue {
        CstInputValue::Object(
            entry
                .iter()
                .map(|(k, v)| (k.clone(), CstInputValue::String(v.clone())))
                .collect(),
        )
    }

    pub fn apply(text: &str, changes: &[Change]) -> Result<String, String> {
        let root = CstRootNode::parse(text, &ParseOptions::default()).map_err(|e| e.to_string())?;
        for change in changes {
            let (list, name) = match change {
                Change::Add { list, .. } | Change::Set { list, .. } => list.split_at(list.len() - 1),
            };
            let name = &name[0];
            let parent = object_at(&root, list)?;
            match change {
                Change::Add { entry, .. } => match parent.array_value(name) {
                    Some(array) => {
                        array.ensure_multiline();
                        array.append(entry_value(entry));
                    }
                    None if parent.get(name).is_none() => {
                        parent.append(name, CstInputValue::Array(vec![entry_value(entry)]));
                    }
                    None => return Err(format!("`{name}` is not a list")),
                },
                Change::Set {
                    index, field, value, ..
                } => {
                    let entry = parent
                        .array_value(name)
                        .and_then(|array| array.elements().get(*index).and_then(|e| e.as_object()))
                        .ok_or("an entry of the list is not an object")?;
                    match entry.get(field) {
                        Some(prop) => prop.set_value(CstInputValue::String(value.clone())),
                        None => {
                            entry.append(field, CstInputValue::String(value.clone()));
                        }
                    }
                }
            }
        }
        Ok(root.to_string())
    }
}

/// The platform's names, from its wrangler configs (the environment's section when not default),
/// with `kv_id` given on the command line or in PLATFORM_KV_ID first.
pub fn facts(dir: &Path, environment: &str, kv_id: Option<String>) -> Result<Facts, Failure> {
    let read = |file: &str| -> Value {
        let text = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        let top: Value = toml::from_str(&text).unwrap_or(Value::Null);
        if environment == DEFAULT_ENV {
            top
        } else {
            top["env"][environment].clone()
        }
    };
    let usage = read("platform-usage.toml");
    let binding = |list: &Value, name: &str, field: &str| {
        list.as_array()?
            .iter()
            .find(|b| b["binding"] == name)
            .and_then(|b| b[field].as_str())
            .map(str::to_owned)
    };
    let kv_id = kv_id
        .or_else(|| binding(&usage["kv_namespaces"], "PLATFORM_CACHE", "id"))
        .ok_or_else(|| {
            Failure::usage("the platform's KV namespace id is not known")
                .hint(format!("pass --kv-id ID (or PLATFORM_KV_ID), or --platform-dir with platform-usage.toml (looked in {})", dir.display()))
        })?;
    let suffix = if environment == DEFAULT_ENV {
        String::new()
    } else {
        format!("-{environment}")
    };
    let queue = binding(&usage["queues"]["producers"], "PLATFORM_TELEMETRY", "queue")
        .unwrap_or_else(|| format!("platform-telemetry{suffix}"));
    let collector = read("error-collector.toml")["name"]
        .as_str()
        .map_or_else(|| format!("platform-error-collector{suffix}"), str::to_owned);
    Ok(Facts {
        kv_id,
        queue,
        collector,
    })
}

/// The application code that goes with the bindings: the consumer SDK and how to call it.
pub const SDK_LINES: &str = r#"npm install @littlebearapps/platform-consumer-sdk

import { withFeatureBudget, completeTracking } from "@littlebearapps/platform-consumer-sdk";
const tracked = withFeatureBudget(env, "my-app:api:render", { ctx }); // use `tracked` in place of `env`
ctx.waitUntil(completeTracking(tracked));                               // sends the telemetry, once"#;

pub fn run(args: WireArgs, environment: Option<&str>, out: &Output) -> Result<(), Failure> {
    let environment = environment.unwrap_or(DEFAULT_ENV);
    let format = Format::of(&args.path)?;
    let shown = args.path.display().to_string();
    let text = std::fs::read_to_string(&args.path)
        .map_err(|e| Failure::usage(format!("cannot read {shown}: {e}")))?;
    let data =
        read_data(format, &text).map_err(|e| Failure::usage(format!("{shown} does not parse: {e}")))?;
    let facts = facts(&args.platform_dir, environment, args.kv_id.clone())?;
    let base: Vec<String> = args
        .app_env
        .iter()
        .flat_map(|env| ["env".to_owned(), env.clone()])
        .collect();
    let changes = plan(&data, &base, &wants(&facts))?;
    let described: Vec<String> = changes.iter().map(Change::describe).collect();
    let report =
        serde_json::json!({"file": shown, "changes": described, "check": args.check, "sdk": SDK_LINES});
    if changes.is_empty() {
        out.emit(&report, || {
            println!(
                "{shown}: wired already (PLATFORM_CACHE, PLATFORM_TELEMETRY, tail consumer {})",
                facts.collector
            )
        });
        return Ok(());
    }
    if args.check {
        out.emit(&report, || {
            println!("{shown} is not wired to the platform:");
            for line in &described {
                println!("  {line}");
            }
        });
        return Err(Failure::new(
            Exit::Findings,
            format!("{shown}: {} change(s) needed", changes.len()),
        )
        .hint(format!("run `platform wire {shown}`")));
    }
    let updated = apply(format, &text, &changes).map_err(|e| Failure::usage(format!("{shown}: {e}")))?;
    std::fs::write(&args.path, updated).map_err(|e| Failure::usage(format!("cannot write {shown}: {e}")))?;
    out.emit(&report, || {
        println!("{shown}: wired to the platform");
        for line in &described {
            println!("  {line}");
        }
        println!("\nIn the application (the SDK reads these two bindings by name):\n\n{SDK_LINES}");
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        Facts {
            kv_id: "0123abcd".into(),
            queue: "platform-telemetry".into(),
            collector: "platform-error-collector".into(),
        }
    }

    fn wire(format: Format, text: &str, base: &[String]) -> String {
        let changes = plan(&read_data(format, text).unwrap(), base, &wants(&facts())).unwrap();
        let once = apply(format, text, &changes).unwrap();
        let again = plan(&read_data(format, &once).unwrap(), base, &wants(&facts())).unwrap();
        assert!(again.is_empty(), "a second run changes {again:?}\n{once}");
        once
    }

    #[test]
    fn a_toml_config_gains_the_three_entries_and_keeps_its_comments() {
        let text = "# my app\nname = \"app\" # the name\nmain = \"src/index.js\"\n\n[vars]\nMODE = \"live\" # kept\n";
        let wired = wire(Format::Toml, text, &[]);
        assert!(
            wired.starts_with("# my app\nname = \"app\" # the name\n"),
            "{wired}"
        );
        assert!(wired.contains("MODE = \"live\" # kept"), "{wired}");
        assert!(
            wired.contains(r#"kv_namespaces = [{ binding = "PLATFORM_CACHE", id = "0123abcd" }]"#),
            "{wired}"
        );
        assert!(
            wired.contains(
                "[[queues.producers]]\nbinding = \"PLATFORM_TELEMETRY\"\nqueue = \"platform-telemetry\""
            ),
            "{wired}"
        );
        assert!(
            wired.contains(r#"tail_consumers = [{ service = "platform-error-collector" }]"#),
            "{wired}"
        );
        let data: Value = toml::from_str(&wired).unwrap();
        assert_eq!(data["vars"]["MODE"], "live");
    }

    #[test]
    fn existing_lists_are_extended_and_a_wrong_id_is_corrected() {
        let text = "name = \"app\"\n\n[[kv_namespaces]]\nbinding = \"PLATFORM_CACHE\" # shared\nid = \"old\"\n\n[[kv_namespaces]]\nbinding = \"OWN\"\nid = \"x\"\n";
        let changes = plan(&read_data(Format::Toml, text).unwrap(), &[], &wants(&facts())).unwrap();
        assert_eq!(
            changes[0].describe(),
            "~ kv_namespaces[0].id: \"old\" -> \"0123abcd\""
        );
        let wired = wire(Format::Toml, text, &[]);
        assert!(
            wired.contains("binding = \"PLATFORM_CACHE\" # shared\nid = \"0123abcd\""),
            "{wired}"
        );
        assert!(wired.contains("[[kv_namespaces]]\nbinding = \"OWN\""), "{wired}");
    }

    #[test]
    fn an_environment_section_is_wired_on_its_own() {
        let text = "name = \"app\"\n\n[env.production]\nname = \"app-prod\"\n";
        let wired = wire(Format::Toml, text, &["env".into(), "production".into()]);
        let data: Value = toml::from_str(&wired).unwrap();
        assert_eq!(data["env"]["production"]["kv_namespaces"][0]["id"], "0123abcd");
        assert_eq!(
            data["env"]["production"]["queues"]["producers"][0]["binding"],
            "PLATFORM_TELEMETRY"
        );
        assert!(data.get("kv_namespaces").is_none(), "{wired}");
    }

    #[test]
    fn a_jsonc_config_gains_the_three_entries_and_keeps_its_comments() {
        let text = "{\n  // my app\n  \"name\": \"app\",\n  /* the queues */\n  \"queues\": { \"producers\": [] },\n  \"kv_namespaces\": [\n    { \"binding\": \"OWN\", \"id\": \"x\" } // own\n  ]\n}\n";
        let wired = wire(Format::Jsonc, text, &[]);
        assert!(
            wired.contains("// my app") && wired.contains("/* the queues */") && wired.contains("// own"),
            "{wired}"
        );
        let data = read_data(Format::Jsonc, &wired).unwrap();
        assert_eq!(data["kv_namespaces"][1]["binding"], "PLATFORM_CACHE");
        assert_eq!(data["queues"]["producers"][0]["queue"], "platform-telemetry");
        assert_eq!(data["tail_consumers"][0]["service"], "platform-error-collector");
    }

    #[test]
    fn a_list_that_is_not_one_is_reported() {
        let failure = plan(&serde_json::json!({"tail_consumers": "x"}), &[], &wants(&facts())).unwrap_err();
        assert!(
            failure.message.contains("`tail_consumers` is not a list"),
            "{failure:?}"
        );
    }

    #[test]
    fn the_platform_names_come_from_its_wrangler_configs() {
        let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../wrangler"));
        let production = super::facts(&dir, DEFAULT_ENV, None).unwrap();
        assert_eq!(
            (production.queue.as_str(), production.collector.as_str()),
            ("platform-telemetry", "platform-error-collector")
        );
        let staging = super::facts(&dir, "staging", Some("id".into())).unwrap();
        assert_eq!(staging.queue, "platform-telemetry-staging");
        assert_eq!(staging.collector, "platform-error-collector-staging");
    }
}
