//! An in-process OTLP/gRPC receiver that counts what the services export and drops it.
//!
//! The tracing-on rerun points every service's `OTEL_EXPORTER_OTLP_ENDPOINT` here. The
//! sink answers instantly, so what the rerun measures is the services' own cost of
//! creating, batching and exporting spans, not a collector's speed. Span counts per
//! `service.name` prove the export really happened. Metrics exports are accepted too,
//! so a service that also exports metrics sees a collector, not `UNIMPLEMENTED`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::resource::v1::Resource;
use tokio::sync::oneshot;
use tonic::{Request, Response, Status};

/// Spans received, per exporting service.
#[derive(Debug, Default, Clone)]
pub struct Counts {
    inner: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl Counts {
    /// Spans received so far, by `service.name`.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.inner.lock().map(|m| m.clone()).unwrap_or_default()
    }

    fn add(&self, service: String, spans: u64) {
        if let Ok(mut m) = self.inner.lock() {
            *m.entry(service).or_default() += spans;
        }
    }
}

/// The `service.name` resource attribute, or `unknown`.
fn service_name(resource: Option<&Resource>) -> String {
    resource
        .into_iter()
        .flat_map(|r| r.attributes.iter())
        .find(|kv| kv.key == "service.name")
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| match &v.value {
            Some(Value::StringValue(s)) => Some(s.clone()),
            _ => None,
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The trace and metrics services of the sink.
#[derive(Debug, Clone)]
struct Sink {
    counts: Counts,
}

#[tonic::async_trait]
impl TraceService for Sink {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        for rs in request.into_inner().resource_spans {
            let spans: usize = rs.scope_spans.iter().map(|s| s.spans.len()).sum();
            self.counts
                .add(service_name(rs.resource.as_ref()), spans as u64);
        }
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

#[tonic::async_trait]
impl MetricsService for Sink {
    async fn export(
        &self,
        _request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        Ok(Response::new(ExportMetricsServiceResponse {
            partial_success: None,
        }))
    }
}

/// A running sink; stops when dropped.
pub struct OtlpSink {
    /// Where it listens.
    pub addr: SocketAddr,
    /// What it has received.
    pub counts: Counts,
    _stop: oneshot::Sender<()>,
}

impl OtlpSink {
    /// Binds 127.0.0.1:0 and serves in the background.
    pub async fn start() -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let counts = Counts::default();
        let sink = Sink {
            counts: counts.clone(),
        };
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(TraceServiceServer::new(sink.clone()))
                .add_service(MetricsServiceServer::new(sink))
                .serve_with_incoming_shutdown(
                    tonic::transport::server::TcpIncoming::from(listener),
                    async {
                        let _ = stopped.await;
                    },
                ),
        );
        Ok(Self {
            addr,
            counts,
            _stop: stop,
        })
    }

    /// The endpoint URL to give exporters.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    fn batch(service: &str, spans: usize) -> ResourceSpans {
        ResourceSpans {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(AnyValue {
                        value: Some(Value::StringValue(service.into())),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![Span::default(); spans],
                ..Default::default()
            }],
            schema_url: String::new(),
        }
    }

    #[tokio::test]
    async fn spans_are_counted_per_service() {
        let sink = OtlpSink::start().await.unwrap();
        let mut client = TraceServiceClient::connect(sink.endpoint()).await.unwrap();
        client
            .export(ExportTraceServiceRequest {
                resource_spans: vec![batch("scim-gateway", 3), batch("identity-service", 2)],
            })
            .await
            .unwrap();
        client
            .export(ExportTraceServiceRequest {
                resource_spans: vec![batch("scim-gateway", 1), ResourceSpans::default()],
            })
            .await
            .unwrap();
        let counts = sink.counts.snapshot();
        assert_eq!(counts.get("scim-gateway"), Some(&4));
        assert_eq!(counts.get("identity-service"), Some(&2));
        assert_eq!(counts.get("unknown"), Some(&0));
        assert_eq!(counts.values().sum::<u64>(), 6);
    }
}
