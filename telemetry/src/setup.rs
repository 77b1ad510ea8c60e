//! Installing the process's subscriber: a filter (`HAYATE_LOG`), the log
//! line format, and the OpenTelemetry layer when traces are exported.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// How log lines are written to stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// One readable line per event, with the fields of the spans it is in
    /// (`query_id`, `stage`, `task`).
    Text,
    /// One JSON object per event: `timestamp`, `level`, `target`, the
    /// event's `fields`, and the fields of its spans (`span`, `spans`), so
    /// a log pipeline can filter by query or task.
    Json,
}

pub struct TelemetryConfig {
    /// The process's role as a trace's `service.name` (`hayate-coordinator`).
    pub service: String,
    pub format: LogFormat,
    /// The level when `HAYATE_LOG` is not set.
    pub default_level: &'static str,
    /// Where to send traces (`http://collector:4318`; the OTLP/HTTP
    /// traces path is added); none exports nothing.
    pub otlp_endpoint: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("OTLP exporter: {0}")]
    Exporter(String),
    #[error("cannot install the log subscriber: {0}")]
    Subscriber(String),
}

/// Keeps traces flowing; dropping it sends the spans not yet exported.
pub struct Telemetry {
    traces: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.traces.take()
            && let Err(e) = provider.shutdown()
        {
            eprintln!("could not send the last traces: {e}");
        }
    }
}

pub fn init(config: TelemetryConfig) -> Result<Telemetry, TelemetryError> {
    let filter = EnvFilter::try_from_env("HAYATE_LOG")
        .unwrap_or_else(|_| EnvFilter::new(config.default_level));
    let traces = match &config.otlp_endpoint {
        Some(endpoint) => Some(tracer_provider(&config.service, endpoint)?),
        None => None,
    };
    let otel = traces.as_ref().map(|provider| {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        tracing_opentelemetry::layer().with_tracer(provider.tracer("hayate"))
    });
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let (text, json) = match config.format {
        LogFormat::Text => (
            Some(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    // Colours only on a terminal: container logs stay plain.
                    .with_ansi(terminal),
            ),
            None,
        ),
        LogFormat::Json => (
            None,
            Some(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr)
                    .with_current_span(true)
                    .with_span_list(true),
            ),
        ),
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(text)
        .with(json)
        .with(otel)
        .try_init()
        .map_err(|e| TelemetryError::Subscriber(e.to_string()))?;
    Ok(Telemetry { traces })
}

fn tracer_provider(service: &str, endpoint: &str) -> Result<SdkTracerProvider, TelemetryError> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
        .build()
        .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
    // Several workers share a service name; each process is an instance.
    let instance = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    let resource = Resource::builder()
        .with_service_name(service.to_string())
        .with_attribute(opentelemetry::KeyValue::new(
            "service.instance.id",
            instance,
        ))
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}
