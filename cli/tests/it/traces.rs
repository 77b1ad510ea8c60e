//! What operators see of one query: its OpenTelemetry trace, received by a
//! collector this test runs on loopback, spans the coordinator and every
//! worker process that ran a task of it; and the JSON log lines of those
//! processes name the query (and, on workers, the stage and task).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message;

use crate::cluster::{ProcessCluster, tpch_dir};
use crate::processes::{sql, text};

/// One span as the collector received it.
#[derive(Clone, Debug)]
struct Received {
    service: String,
    instance: String,
    name: String,
    trace_id: Vec<u8>,
    span_id: Vec<u8>,
    parent_span_id: Vec<u8>,
    attributes: Vec<(String, String)>,
}

impl Received {
    fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

fn text_of(attributes: &[KeyValue]) -> Vec<(String, String)> {
    attributes
        .iter()
        .map(|kv| {
            let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(Value::StringValue(s)) => s.clone(),
                Some(Value::IntValue(i)) => i.to_string(),
                Some(other) => format!("{other:?}"),
                None => String::new(),
            };
            (kv.key.clone(), value)
        })
        .collect()
}

/// An OTLP/HTTP trace collector on a loopback port: its endpoint and what
/// it has received.
fn start_collector(runtime: &tokio::runtime::Runtime) -> (String, Arc<Mutex<Vec<Received>>>) {
    let received: Arc<Mutex<Vec<Received>>> = Arc::default();
    let sink = Arc::clone(&received);
    let app = Router::new().route(
        "/v1/traces",
        post(move |body: Bytes| {
            let sink = Arc::clone(&sink);
            async move {
                let request = ExportTraceServiceRequest::decode(body).expect("an OTLP export");
                let mut spans = sink.lock().unwrap();
                for resource in request.resource_spans {
                    let attributes =
                        text_of(&resource.resource.map(|r| r.attributes).unwrap_or_default());
                    let find = |key: &str| {
                        attributes
                            .iter()
                            .find(|(k, _)| k == key)
                            .map(|(_, v)| v.clone())
                            .unwrap_or_default()
                    };
                    for scope in resource.scope_spans {
                        for span in scope.spans {
                            spans.push(Received {
                                service: find("service.name"),
                                instance: find("service.instance.id"),
                                name: span.name,
                                trace_id: span.trace_id,
                                span_id: span.span_id,
                                parent_span_id: span.parent_span_id,
                                attributes: text_of(&span.attributes),
                            });
                        }
                    }
                }
                // An empty ExportTraceServiceResponse.
                Bytes::new()
            }
        }),
    );
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("collector port");
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    runtime.spawn(async move { axum::serve(listener, app).await });
    (endpoint, received)
}

#[test]
fn one_querys_trace_spans_every_process_and_its_log_lines_name_it() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (endpoint, received) = start_collector(&runtime);
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ("HAYATE_LOG_FORMAT", "json"),
        ("HAYATE_LOG", "info,hayate_coordinator=debug"),
    ];
    let mut cluster = ProcessCluster::start_with_env(1, &env);
    let logs = tempfile::tempdir().unwrap();
    let worker_log = logs.path().join("worker.log");
    cluster.add_logging_worker(&worker_log);
    std::thread::sleep(Duration::from_millis(600));

    let ddl = format!(
        "CREATE EXTERNAL TABLE IF NOT EXISTS lineitem STORED AS PARQUET LOCATION '{}/lineitem/'",
        tpch_dir()
    );
    let query = "SELECT l_returnflag, count(*) FROM lineitem GROUP BY l_returnflag ORDER BY 1";
    let out = sql(
        &cluster.url,
        &[&ddl, "SET hayate.bytes_per_task = 1", query],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("| R "), "{}", text(&out));

    // The query's id, from the coordinator's JSON log.
    let coordinator_log = cluster.coordinator_log_text();
    let lines: Vec<serde_json::Value> = coordinator_log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    let planned = lines
        .iter()
        .find(|l| {
            l["fields"]["message"] == "planned"
                && l["fields"]["sql"]
                    .as_str()
                    .is_some_and(|s| s.contains("l_returnflag"))
        })
        .unwrap_or_else(|| panic!("no 'planned' line:\n{coordinator_log}"));
    let query_id = planned["fields"]["query_id"].as_str().unwrap().to_string();
    let in_query = lines
        .iter()
        .find(|l| l["span"]["query_id"] == query_id.as_str())
        .unwrap_or_else(|| panic!("no line inside the query's span:\n{coordinator_log}"));
    assert_eq!(in_query["span"]["name"], "query");

    // Every process ends as its orchestrator would end it, sending the
    // spans it still holds.
    for worker in &cluster.workers {
        worker.sigterm();
    }
    for worker in &mut cluster.workers {
        let _ = worker.0.wait();
    }
    cluster.stop_coordinator();

    let worker_lines = std::fs::read_to_string(&worker_log).unwrap();
    let launched = worker_lines
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
        })
        .find(|l| {
            l["fields"]["message"] == "task launched" && l["span"]["query_id"] == query_id.as_str()
        })
        .unwrap_or_else(|| panic!("no task line of the query:\n{worker_lines}"));
    assert_eq!(launched["span"]["name"], "task");
    assert!(launched["span"]["stage"].is_number() && launched["span"]["task"].is_number());

    let deadline = Instant::now() + Duration::from_secs(10);
    let (root, tasks) = loop {
        let spans = received.lock().unwrap().clone();
        let root = spans
            .iter()
            .find(|s| s.name == "query" && s.attribute("query_id") == Some(query_id.as_str()))
            .cloned();
        if let Some(root) = root {
            let tasks: Vec<Received> = spans
                .iter()
                .filter(|s| s.name == "task" && s.trace_id == root.trace_id)
                .cloned()
                .collect();
            let instances: std::collections::BTreeSet<&str> =
                tasks.iter().map(|t| t.instance.as_str()).collect();
            if instances.len() >= 2 {
                break (root, tasks);
            }
        }
        assert!(
            Instant::now() < deadline,
            "the collector never got the query's spans from both workers: {spans:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(root.service, "hayate-coordinator");
    assert!(
        root.parent_span_id.is_empty(),
        "the query's span is the trace's root"
    );
    for task in &tasks {
        assert_eq!(task.service, "hayate-worker");
        assert_eq!(task.parent_span_id, root.span_id, "{task:?}");
        assert_eq!(task.attribute("query_id"), Some(query_id.as_str()));
    }
    assert!(tasks.len() >= 3, "a task per lineitem file: {tasks:#?}");
    eprintln!(
        "trace of {query_id}: 1 coordinator span, {} task spans on 2 workers",
        tasks.len()
    );
}
