//! The analytics datasets the collector reads, each as its own GraphQL request (one bad field fails
//! a whole document, so a dataset never sinks the others), and how each answer becomes one set of
//! usage lines per UTC hour.
//!
//! Every request covers a range of whole hours and groups by hour, so a missed day is backfilled
//! with one request per dataset. Field names follow Cloudflare's schema as documented and probed
//! (the account node's `settings` and introspection are the authority).

use serde_json::{json, Value};

use super::attribution::Attribution;
use super::{AccountMetric as M, Aggregation, Exactness, UsageLine};
use crate::time::{iso8601, EpochMs, UtcDay};

pub const HOUR_MS: EpochMs = 3_600_000;
const DAY_MS: EpochMs = 86_400_000;
/// Groups per answer; an answer this long may be cut short.
pub const PAGE_LIMIT: usize = 10_000;

/// How a dataset is filtered on time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// `datetime_geq` / `datetime_lt` (Time).
    Datetime,
    /// `date_geq` / `date_leq` (Date): datasets that refuse a datetime filter.
    Date,
}

type Read = fn(&Value, &mut Vec<String>) -> Vec<(M, f64)>;

/// One dataset of the account node.
#[derive(Debug, Clone, Copy)]
pub struct Dataset {
    /// Stored as `account_usage.dataset` and used as the request's alias.
    pub id: &'static str,
    pub node: &'static str,
    pub filter: Filter,
    /// The dimension that places a group in time: `datetimeHour`, or `date` for daily levels.
    pub when: &'static str,
    /// The dimension naming the resource; `None` when the dataset reports the account as a whole.
    pub resource: Option<&'static str>,
    /// Further dimensions the reading needs (`actionType`).
    pub dimensions: &'static str,
    pub selection: &'static str,
    /// Adaptive sampling: the answer carries `avg { sampleInterval }`.
    pub sampled: bool,
    /// How far back the dataset can be queried.
    pub retention_days: u64,
    read: Read,
}

macro_rules! dataset {
    ($id:literal, $node:literal, $filter:ident, $when:literal, $resource:expr, $dims:literal, $selection:literal, $sampled:literal, $days:literal, $read:expr) => {
        Dataset {
            id: $id,
            node: $node,
            filter: Filter::$filter,
            when: $when,
            resource: $resource,
            dimensions: $dims,
            selection: $selection,
            sampled: $sampled,
            retention_days: $days,
            read: $read,
        }
    };
}

/// Every dataset, in collection order.
pub const DATASETS: &[Dataset] = &[
    dataset!(
        "workers",
        "workersInvocationsAdaptive",
        Datetime,
        "datetimeHour",
        Some("scriptName"),
        "",
        "sum { requests errors subrequests } quantiles { cpuTimeP50 }",
        true,
        90,
        read_workers
    ),
    dataset!(
        "kv_operations",
        "kvOperationsAdaptiveGroups",
        Datetime,
        "datetimeHour",
        Some("namespaceId"),
        "actionType",
        "sum { requests }",
        true,
        31,
        read_kv
    ),
    dataset!(
        "kv_storage",
        "kvStorageAdaptiveGroups",
        Date,
        "date",
        Some("namespaceId"),
        "",
        "max { byteCount }",
        false,
        31,
        |g, _| vec![(M::KvStoredBytes, num(g, "max", "byteCount"))]
    ),
    dataset!(
        "d1",
        "d1AnalyticsAdaptiveGroups",
        Date,
        "datetimeHour",
        Some("databaseId"),
        "",
        "sum { rowsRead rowsWritten readQueries writeQueries }",
        true,
        31,
        read_d1
    ),
    dataset!(
        "d1_storage",
        "d1StorageAdaptiveGroups",
        Date,
        "date",
        Some("databaseId"),
        "",
        "max { databaseSizeBytes }",
        false,
        31,
        |g, _| vec![(M::D1StoredBytes, num(g, "max", "databaseSizeBytes"))]
    ),
    dataset!(
        "r2_operations",
        "r2OperationsAdaptiveGroups",
        Datetime,
        "datetimeHour",
        Some("bucketName"),
        "actionType",
        "sum { requests }",
        true,
        31,
        read_r2
    ),
    dataset!(
        "r2_storage",
        "r2StorageAdaptiveGroups",
        Datetime,
        "datetimeHour",
        Some("bucketName"),
        "",
        "max { payloadSize metadataSize }",
        false,
        31,
        |g, _| vec![(
            M::R2StoredBytes,
            num(g, "max", "payloadSize") + num(g, "max", "metadataSize")
        )]
    ),
    dataset!(
        "do_invocations",
        "durableObjectsInvocationsAdaptiveGroups",
        Datetime,
        "datetimeHour",
        Some("scriptName"),
        "",
        "sum { requests }",
        true,
        31,
        |g, _| vec![(M::DoRequests, num(g, "sum", "requests"))]
    ),
    dataset!(
        "do_periodic",
        "durableObjectsPeriodicGroups",
        Datetime,
        "datetimeHour",
        Some("scriptName"),
        "",
        "sum { duration rowsRead rowsWritten }",
        false,
        31,
        read_do_periodic
    ),
    dataset!(
        "do_storage",
        "durableObjectsStorageGroups",
        Datetime,
        "datetimeHour",
        None,
        "",
        "max { storedBytes }",
        false,
        31,
        |g, _| vec![(M::DoStoredBytes, num(g, "max", "storedBytes"))]
    ),
    dataset!(
        "do_sql_storage",
        "durableObjectsSqlStorageGroups",
        Datetime,
        "datetimeHour",
        None,
        "",
        "max { storedBytes }",
        false,
        31,
        |g, _| vec![(M::DoStoredBytes, num(g, "max", "storedBytes"))]
    ),
    dataset!(
        "queues",
        "queueMessageOperationsAdaptiveGroups",
        Datetime,
        "datetimeHour",
        Some("queueId"),
        "",
        "sum { billableOperations }",
        true,
        31,
        |g, _| vec![(M::QueueOperations, num(g, "sum", "billableOperations"))]
    ),
    dataset!(
        "workers_ai",
        "aiInferenceAdaptiveGroups",
        Datetime,
        "datetimeHour",
        Some("modelId"),
        "",
        "sum { totalNeurons }",
        true,
        31,
        |g, _| vec![(M::AiNeurons, num(g, "sum", "totalNeurons"))]
    ),
    dataset!(
        "vectorize_queries",
        "vectorizeV2QueriesAdaptiveGroups",
        Datetime,
        "datetimeHour",
        Some("indexName"),
        "",
        "sum { queriedVectorDimensions }",
        true,
        31,
        |g, _| vec![(
            M::VectorizeQueriedDimensions,
            num(g, "sum", "queriedVectorDimensions")
        )]
    ),
    dataset!(
        "vectorize_storage",
        "vectorizeV2StorageAdaptiveGroups",
        Datetime,
        "datetimeHour",
        Some("indexName"),
        "",
        "max { storedVectorDimensions }",
        false,
        31,
        |g, _| vec![(
            M::VectorizeStoredDimensions,
            num(g, "max", "storedVectorDimensions")
        )]
    ),
    dataset!(
        "analytics_engine",
        "workersAnalyticsEngineAdaptiveGroups",
        Datetime,
        "datetimeHour",
        None,
        "",
        "count",
        true,
        90,
        |g, _| vec![(M::AnalyticsEngineDataPoints, count(g))]
    ),
    dataset!(
        "workflows",
        "workflowsAdaptiveGroups",
        Datetime,
        "datetimeHour",
        Some("workflowName"),
        "",
        "count sum { cpuTime }",
        true,
        31,
        // cpuTime is reported in microseconds.
        |g, _| vec![
            (M::WorkflowsRequests, count(g)),
            (M::WorkflowsCpuMs, num(g, "sum", "cpuTime") / 1000.0)
        ]
    ),
    dataset!(
        "hyperdrive",
        "hyperdriveQueriesAdaptiveGroups",
        Datetime,
        "datetimeHour",
        Some("configId"),
        "",
        "count",
        true,
        31,
        |g, _| vec![(M::HyperdriveQueries, count(g))]
    ),
    dataset!(
        "images",
        "imagesRequestsAdaptiveGroups",
        Datetime,
        "datetimeHour",
        None,
        "",
        "sum { requests }",
        true,
        31,
        |g, _| vec![(M::ImagesRequests, num(g, "sum", "requests"))]
    ),
];

/// A dataset is its id (the reading functions cannot be compared).
impl PartialEq for Dataset {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

pub fn find(id: &str) -> Option<&'static Dataset> {
    DATASETS.iter().find(|dataset| dataset.id == id)
}

/// Adds a warning once: a repeated oddity (one per group) is one warning.
fn warn(warnings: &mut Vec<String>, warning: String) {
    if !warnings.contains(&warning) {
        warnings.push(warning);
    }
}

fn num(group: &Value, block: &str, field: &str) -> f64 {
    group[block][field].as_f64().unwrap_or(0.0)
}

fn count(group: &Value) -> f64 {
    group["count"].as_f64().unwrap_or(0.0)
}

fn action(group: &Value) -> &str {
    group["dimensions"]["actionType"].as_str().unwrap_or("")
}

fn read_workers(group: &Value, _: &mut Vec<String>) -> Vec<(M, f64)> {
    let requests = num(group, "sum", "requests");
    vec![
        (M::WorkersRequests, requests),
        (M::WorkersErrors, num(group, "sum", "errors")),
        (M::WorkersSubrequests, num(group, "sum", "subrequests")),
        // The sum of CPU time is no longer selectable: estimated as the median (µs) × requests.
        (
            M::WorkersCpuMs,
            num(group, "quantiles", "cpuTimeP50") * requests / 1000.0,
        ),
    ]
}

fn read_kv(group: &Value, warnings: &mut Vec<String>) -> Vec<(M, f64)> {
    let metric = match action(group) {
        "read" => M::KvReads,
        "write" => M::KvWrites,
        "delete" => M::KvDeletes,
        "list" => M::KvLists,
        other => {
            warn(
                warnings,
                format!("KV action {other:?} is not known: its requests are not counted"),
            );
            return Vec::new();
        }
    };
    vec![(metric, num(group, "sum", "requests"))]
}

fn read_d1(group: &Value, _: &mut Vec<String>) -> Vec<(M, f64)> {
    vec![
        (M::D1RowsRead, num(group, "sum", "rowsRead")),
        (M::D1RowsWritten, num(group, "sum", "rowsWritten")),
        (
            M::D1Queries,
            num(group, "sum", "readQueries") + num(group, "sum", "writeQueries"),
        ),
    ]
}

fn read_r2(group: &Value, warnings: &mut Vec<String>) -> Vec<(M, f64)> {
    let (metric, known) = super::r2::classify(action(group));
    if !known {
        let warning = format!(
            "R2 action {:?} is not classified: counted as Class A",
            action(group)
        );
        warn(warnings, warning);
    }
    vec![(metric, num(group, "sum", "requests"))]
}

fn read_do_periodic(group: &Value, _: &mut Vec<String>) -> Vec<(M, f64)> {
    vec![
        // Billing duration, in GB-s.
        (M::DoGbSeconds, num(group, "sum", "duration")),
        (M::DoRowsRead, num(group, "sum", "rowsRead")),
        (M::DoRowsWritten, num(group, "sum", "rowsWritten")),
    ]
}

/// An hour being read: its start, the sum and count of sample intervals, and each
/// (metric, resource) amount, sorted.
type Bucket<'a> = (EpochMs, f64, f64, Vec<(M, &'a str, f64)>);

/// One hour of one dataset, as it is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct HourLines {
    pub start: EpochMs,
    pub lines: Vec<UsageLine>,
    pub exactness: Exactness,
}

/// A dataset's answer for a range of hours: every hour of the range (an hour without usage has no
/// lines, and is recorded as collected all the same) and what was odd about it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Answer {
    pub hours: Vec<HourLines>,
    pub warnings: Vec<String>,
}

impl Dataset {
    /// The GraphQL document of this dataset alone.
    pub fn query(&self) -> String {
        let (ty, filter) = match self.filter {
            Filter::Datetime => ("Time", "datetime_geq: $from, datetime_lt: $to"),
            Filter::Date => ("Date", "date_geq: $from, date_leq: $to"),
        };
        let avg = if self.sampled {
            " avg { sampleInterval }"
        } else {
            ""
        };
        format!(
            "query {id}($account: String!, $from: {ty}!, $to: {ty}!) {{ viewer {{ accounts(filter: {{ accountTag: $account }}) {{ \
             {id}: {node}(limit: {PAGE_LIMIT}, filter: {{ {filter} }}) {{ dimensions {{ {when} {resource} {dims} }} {selection}{avg} }} }} }} }}",
            id = self.id,
            node = self.node,
            when = self.when,
            resource = self.resource.unwrap_or(""),
            dims = self.dimensions,
            selection = self.selection,
        )
    }

    /// The request body for the hours starting in `[from, to)`.
    pub fn request(&self, account: &str, from: EpochMs, to: EpochMs) -> String {
        let (from, to) = match self.filter {
            Filter::Datetime => (iso8601(from), iso8601(to)),
            Filter::Date => (
                UtcDay::containing(from).to_string(),
                UtcDay::containing(to.saturating_sub(1)).to_string(),
            ),
        };
        json!({ "query": self.query(), "variables": { "account": account, "from": from, "to": to } })
            .to_string()
    }

    /// Reads a `{data, errors}` answer for the hours starting in `[from, to)`. An error about this
    /// dataset (or about no field in particular) fails it: a partial figure stored for an hour
    /// would undercount it. Errors elsewhere in the document are warnings.
    pub fn parse(
        &self,
        answer: &Value,
        from: EpochMs,
        to: EpochMs,
        owners: &Attribution,
    ) -> Result<Answer, String> {
        let mut fatal = Vec::new();
        let mut warnings = Vec::new();
        for error in answer["errors"].as_array().into_iter().flatten() {
            let message = error["message"].as_str().unwrap_or("an error without a message");
            let path = error["path"].as_array();
            if path.is_none_or(|path| path.iter().any(|part| part.as_str() == Some(self.id))) {
                fatal.push(message.to_owned());
            } else {
                warn(&mut warnings, format!("elsewhere in the answer: {message}"));
            }
        }
        if !fatal.is_empty() {
            return Err(format!("the API answered with errors: {}", fatal.join("; ")));
        }
        let Some(accounts) = answer["data"]["viewer"]["accounts"].as_array() else {
            return Err("the answer has no data.viewer.accounts".into());
        };
        let Some(account) = accounts.first() else {
            return Err(
                "the token sees no account with this id: check CLOUDFLARE_ACCOUNT_ID and that \
                        the token has Account Analytics: Read"
                    .into(),
            );
        };
        let Some(groups) = account[self.id].as_array() else {
            return Err(format!("the answer has no list at {}", self.id));
        };
        if groups.len() >= PAGE_LIMIT {
            warn(
                &mut warnings,
                format!("{PAGE_LIMIT} groups or more: the figures may be cut short"),
            );
        }
        // Per hour: the sum and count of sample intervals, and each (metric, resource) amount kept
        // sorted by binary search (no maps, no sort: the collector's wasm stays small).
        let mut buckets: Vec<Bucket> = Vec::new();
        for group in groups {
            let when = group["dimensions"][self.when].as_str().unwrap_or("");
            let starts = self.hours_of(when, from, to);
            if starts.is_empty() {
                // A date filter asks for whole days: their other hours are not asked for.
                if self.filter == Filter::Datetime {
                    let warning = format!("a group at {when:?} is outside the hours asked for");
                    warn(&mut warnings, warning);
                }
                continue;
            }
            let resource = self
                .resource
                .and_then(|dimension| group["dimensions"][dimension].as_str())
                .unwrap_or("");
            let read = (self.read)(group, &mut warnings);
            let interval = group["avg"]["sampleInterval"].as_f64().unwrap_or(1.0);
            for start in starts {
                let at = match buckets.iter().position(|bucket| bucket.0 == start) {
                    Some(at) => at,
                    None => {
                        buckets.push((start, 0.0, 0.0, Vec::new()));
                        buckets.len() - 1
                    }
                };
                let (_, sum, count, amounts) = &mut buckets[at];
                *sum += interval;
                *count += 1.0;
                for (metric, amount) in &read {
                    match amounts.binary_search_by(|entry| (entry.0, entry.1).cmp(&(*metric, resource))) {
                        Ok(found) => {
                            let slot = &mut amounts[found].2;
                            *slot = match metric.aggregation() {
                                Aggregation::Sum => *slot + amount,
                                Aggregation::Level => slot.max(*amount),
                            };
                        }
                        Err(place) => amounts.insert(place, (*metric, resource, *amount)),
                    }
                }
            }
        }
        let mut answer = Answer::default();
        for start in (from..to).step_by(HOUR_MS as usize) {
            let mut lines = Vec::new();
            let mut exactness = Exactness::Exact;
            if let Some((_, sum, count, amounts)) = buckets.iter().find(|bucket| bucket.0 == start) {
                if self.sampled {
                    exactness = Exactness::from_interval(sum / count);
                }
                // A zero says nothing a missing line does not, and costs stored bytes.
                for (metric, resource, amount) in amounts.iter().filter(|entry| entry.2 != 0.0) {
                    match UsageLine::new(*metric, resource, owners.project(resource), *amount) {
                        Ok(line) => lines.push(line),
                        Err(error) => warn(&mut warnings, error),
                    }
                }
            }
            answer.hours.push(HourLines {
                start,
                lines,
                exactness,
            });
        }
        answer.warnings = warnings;
        Ok(answer)
    }

    /// The hours of `[from, to)` a group's time dimension covers: its hour, or every hour of its
    /// day for a daily level.
    fn hours_of(&self, when: &str, from: EpochMs, to: EpochMs) -> Vec<EpochMs> {
        let (start, span) = if self.when == "date" {
            match super::instant::parse_day(when) {
                Some(day) => (day, DAY_MS),
                None => return Vec::new(),
            }
        } else {
            match super::instant::parse(when) {
                Some(at) => (at - at % HOUR_MS, HOUR_MS),
                None => return Vec::new(),
            }
        };
        (start..start + span)
            .step_by(HOUR_MS as usize)
            .filter(|hour| (from..to).contains(hour))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FROM: EpochMs = 1_772_460_000_000 - 1_772_460_000_000 % DAY_MS;

    fn owners() -> Attribution {
        Attribution::from_pairs([("api", "shop"), ("bucket-a", "media")])
    }

    fn answer(id: &str, groups: Value) -> Value {
        json!({ "data": { "viewer": { "accounts": [{ id: groups }] } }, "errors": null })
    }

    #[test]
    fn every_dataset_has_a_distinct_valid_id_and_one_document() {
        let ids: std::collections::BTreeSet<_> = DATASETS.iter().map(|d| d.id).collect();
        assert_eq!(ids.len(), DATASETS.len());
        for dataset in DATASETS {
            let valid = dataset.id.len() <= 40
                && dataset
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            assert!(valid, "{}", dataset.id);
            let query = dataset.query();
            assert!(
                query.contains(&format!("{}: {}(", dataset.id, dataset.node)),
                "{query}"
            );
            assert_eq!(query.matches('{').count(), query.matches('}').count(), "{query}");
        }
    }

    #[test]
    fn requests_name_the_hours_in_the_filter_type() {
        let workers = find("workers").unwrap();
        let body: Value = serde_json::from_str(&workers.request("abc", FROM, FROM + 2 * HOUR_MS)).unwrap();
        assert_eq!(body["variables"]["from"], iso8601(FROM));
        assert_eq!(body["variables"]["to"], iso8601(FROM + 2 * HOUR_MS));
        let d1 = find("d1").unwrap();
        let body: Value = serde_json::from_str(&d1.request("abc", FROM, FROM + DAY_MS)).unwrap();
        assert_eq!(
            body["variables"]["from"], body["variables"]["to"],
            "one day, inclusive"
        );
    }

    #[test]
    fn workers_groups_become_lines_per_hour_attributed_or_not() {
        let hour = |h: u64| iso8601(FROM + h * HOUR_MS);
        let groups = json!([
            { "dimensions": { "datetimeHour": hour(0), "scriptName": "api" },
              "sum": { "requests": 100, "errors": 2, "subrequests": 5 }, "quantiles": { "cpuTimeP50": 2000 },
              "avg": { "sampleInterval": 10 } },
            { "dimensions": { "datetimeHour": hour(0), "scriptName": "stray" },
              "sum": { "requests": 1, "errors": 0, "subrequests": 0 }, "quantiles": { "cpuTimeP50": 0 },
              "avg": { "sampleInterval": 1 } },
        ]);
        let workers = find("workers").unwrap();
        let parsed = workers
            .parse(&answer("workers", groups), FROM, FROM + 2 * HOUR_MS, &owners())
            .unwrap();
        assert_eq!(parsed.hours.len(), 2, "the empty hour is recorded too");
        let first = &parsed.hours[0];
        assert_eq!(first.exactness, Exactness::Sampled { mean_interval: 5.5 });
        let line = |metric, resource: &str| {
            first
                .lines
                .iter()
                .find(|l| l.metric == metric && l.resource == resource)
                .cloned()
        };
        let requests = line(M::WorkersRequests, "api").unwrap();
        assert_eq!(
            (requests.amount, requests.project.as_deref()),
            (100.0, Some("shop"))
        );
        assert_eq!(line(M::WorkersCpuMs, "api").unwrap().amount, 200.0);
        assert_eq!(
            line(M::WorkersRequests, "stray").unwrap().project,
            None,
            "unattributed, kept"
        );
        assert!(parsed.hours[1].lines.is_empty());
        assert_eq!(parsed.hours[1].exactness, Exactness::Exact);
    }

    #[test]
    fn kv_and_r2_actions_are_classified_and_daily_levels_fill_their_hours() {
        let at = iso8601(FROM);
        let kv = find("kv_operations").unwrap();
        let groups = json!([
            { "dimensions": { "datetimeHour": at, "namespaceId": "ns", "actionType": "write" }, "sum": { "requests": 3 } },
            { "dimensions": { "datetimeHour": at, "namespaceId": "ns", "actionType": "write" }, "sum": { "requests": 4 } },
            { "dimensions": { "datetimeHour": at, "namespaceId": "ns", "actionType": "teleport" }, "sum": { "requests": 9 } },
        ]);
        let parsed = kv
            .parse(&answer("kv_operations", groups), FROM, FROM + HOUR_MS, &owners())
            .unwrap();
        assert_eq!(parsed.hours[0].lines.len(), 1);
        assert_eq!(parsed.hours[0].lines[0].amount, 7.0);
        assert!(parsed.warnings[0].contains("teleport"), "{:?}", parsed.warnings);

        let r2 = find("r2_operations").unwrap();
        let groups = json!([
            { "dimensions": { "datetimeHour": at, "bucketName": "bucket-a", "actionType": "PutObject" }, "sum": { "requests": 2 } },
            { "dimensions": { "datetimeHour": at, "bucketName": "bucket-a", "actionType": "GetObject" }, "sum": { "requests": 5 } },
            { "dimensions": { "datetimeHour": at, "bucketName": "bucket-a", "actionType": "DeleteObject" }, "sum": { "requests": 1 } },
        ]);
        let parsed = r2
            .parse(&answer("r2_operations", groups), FROM, FROM + HOUR_MS, &owners())
            .unwrap();
        let metrics: Vec<_> = parsed.hours[0]
            .lines
            .iter()
            .map(|l| (l.metric, l.amount))
            .collect();
        assert_eq!(
            metrics,
            [(M::R2ClassA, 2.0), (M::R2ClassB, 5.0), (M::R2FreeOperations, 1.0)]
        );
        assert!(parsed.hours[0]
            .lines
            .iter()
            .all(|l| l.project.as_deref() == Some("media")));

        let storage = find("kv_storage").unwrap();
        let day = UtcDay::containing(FROM).to_string();
        let groups =
            json!([{ "dimensions": { "date": day, "namespaceId": "ns" }, "max": { "byteCount": 1024 } }]);
        let parsed = storage
            .parse(&answer("kv_storage", groups), FROM, FROM + 3 * HOUR_MS, &owners())
            .unwrap();
        assert!(parsed
            .hours
            .iter()
            .all(|h| h.lines.len() == 1 && h.lines[0].amount == 1024.0));
    }

    #[test]
    fn errors_fail_the_dataset_unless_they_are_about_another_field() {
        let workers = find("workers").unwrap();
        let range = (FROM, FROM + HOUR_MS);
        let own = json!({ "data": null, "errors": [{ "message": "unknown field cpuTime", "path": ["viewer", "accounts", 0, "workers"] }] });
        let error = workers.parse(&own, range.0, range.1, &owners()).unwrap_err();
        assert!(error.contains("unknown field cpuTime"), "{error}");
        let unpathed = json!({ "data": { "viewer": { "accounts": [{ "workers": [] }] } }, "errors": [{ "message": "quota" }] });
        assert!(workers.parse(&unpathed, range.0, range.1, &owners()).is_err());
        let elsewhere = json!({ "data": { "viewer": { "accounts": [{ "workers": [] }] } },
                                "errors": [{ "message": "budget unavailable", "path": ["viewer", "budget"] }] });
        let parsed = workers.parse(&elsewhere, range.0, range.1, &owners()).unwrap();
        assert_eq!(parsed.warnings, ["elsewhere in the answer: budget unavailable"]);
        let no_account = json!({ "data": { "viewer": { "accounts": [] } }, "errors": null });
        let error = workers
            .parse(&no_account, range.0, range.1, &owners())
            .unwrap_err();
        assert!(error.contains("Account Analytics: Read"), "{error}");
        let malformed = json!({ "data": { "viewer": { "accounts": [{ "workers": 3 }] } } });
        assert!(workers.parse(&malformed, range.0, range.1, &owners()).is_err());
    }

    #[test]
    fn bad_amounts_and_stray_hours_are_warnings_not_failures() {
        let workers = find("workers").unwrap();
        let groups = json!([
            { "dimensions": { "datetimeHour": "yesterday", "scriptName": "api" }, "sum": { "requests": 1 } },
            { "dimensions": { "datetimeHour": iso8601(FROM), "scriptName": "api" }, "sum": { "requests": -4 } },
        ]);
        let parsed = workers
            .parse(&answer("workers", groups), FROM, FROM + HOUR_MS, &owners())
            .unwrap();
        assert_eq!(parsed.warnings.len(), 2, "{:?}", parsed.warnings);
        assert!(parsed.hours[0]
            .lines
            .iter()
            .all(|l| l.metric != M::WorkersRequests));
    }
}
