//! An in-process OTLP/gRPC receiver that counts what the services export and drops it.
//!
//! The tracing-on rerun points every service's `OTEL_EXPORTER_OTLP_ENDPOINT` here. The
//! sink answers instantly, so what the rerun measures is the services' own cost of
//! creating, batching and exporting spans, not a collector's speed. It reads no more of
//! an export than it needs to count it ([`TraceExport`]): a full decode of every span
//! cost the sink about 50 µs of CPU per request on the machine the services share.
//! Span counts per
//! `service.name` prove the export really happened. Metrics exports are accepted too,
//! so a service that also exports metrics sees a collector, not `UNIMPLEMENTED`.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::{Ready, ready};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::bytes::Bytes;
use tokio::sync::oneshot;
use tonic::codegen::Service;
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Request, Response, Status};
use tonic_prost::ProstCodec;

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

/// The part of an `ExportTraceServiceRequest` the sink reads: each resource's attributes
/// and how many spans it sent. Span bodies stay undecoded bytes and every other field is
/// skipped, so the sink's own CPU (it shares the machine with the services being
/// measured) stays small next to the exporters'.
#[derive(Clone, PartialEq, prost::Message)]
struct TraceExport {
    #[prost(message, repeated, tag = "1")]
    resource_spans: Vec<ResourceSpansHead>,
}

/// `ResourceSpans`: `resource` = 1, `scope_spans` = 2.
#[derive(Clone, PartialEq, prost::Message)]
struct ResourceSpansHead {
    #[prost(message, optional, tag = "1")]
    resource: Option<Resource>,
    #[prost(message, repeated, tag = "2")]
    scope_spans: Vec<ScopeSpansHead>,
}

/// `ScopeSpans`: `spans` = 2, kept as their encoded bytes.
#[derive(Clone, PartialEq, prost::Message)]
struct ScopeSpansHead {
    #[prost(bytes = "bytes", repeated, tag = "2")]
    spans: Vec<Bytes>,
}

/// A message whose every field is skipped (metrics exports are accepted, not read).
#[derive(Clone, PartialEq, prost::Message)]
struct Skipped {}

/// One OTLP export method: the message it reads, its answer, and the gRPC service it is
/// routed under. [`Served`] turns it into a tonic service.
trait Export: Clone + Send + Sync + 'static {
    /// The fully qualified gRPC service name.
    const SERVICE: &'static str;
    /// What is decoded of a request.
    type Request: prost::Message + Default + Send + 'static;
    /// The answer.
    type Response: prost::Message + Send + 'static;
    /// Handles one export.
    fn export(&self, request: Self::Request) -> Self::Response;
}

/// An [`Export`] served as a unary gRPC method with the prost codec.
#[derive(Debug, Clone)]
struct Served<E>(E);

impl<E: Export> NamedService for Served<E> {
    const NAME: &'static str = E::SERVICE;
}

impl<E: Export> UnaryService<E::Request> for Served<E> {
    type Response = E::Response;
    type Future = Ready<Result<Response<E::Response>, Status>>;

    fn call(&mut self, request: Request<E::Request>) -> Self::Future {
        ready(Ok(Response::new(self.0.export(request.into_inner()))))
    }
}

impl<E: Export> Service<http::Request<tonic::body::Body>> for Served<E> {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        let method = self.clone();
        Box::pin(async move {
            let mut grpc = Grpc::new(ProstCodec::<E::Response, E::Request>::default());
            Ok(grpc.unary(method, req).await)
        })
    }
}

/// `opentelemetry.proto.collector.trace.v1.TraceService`: counts spans per service.
#[derive(Debug, Clone)]
struct TraceSink {
    counts: Counts,
}

impl Export for TraceSink {
    const SERVICE: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
    type Request = TraceExport;
    type Response = ExportTraceServiceResponse;

    fn export(&self, request: TraceExport) -> ExportTraceServiceResponse {
        for rs in request.resource_spans {
            let spans: usize = rs.scope_spans.iter().map(|s| s.spans.len()).sum();
            self.counts
                .add(service_name(rs.resource.as_ref()), spans as u64);
        }
        ExportTraceServiceResponse {
            partial_success: None,
        }
    }
}

/// `opentelemetry.proto.collector.metrics.v1.MetricsService`: accepts and drops, so a
/// service exporting metrics sees a collector rather than `UNIMPLEMENTED`.
#[derive(Debug, Clone, Copy)]
struct MetricsSink;

impl Export for MetricsSink {
    const SERVICE: &'static str = "opentelemetry.proto.collector.metrics.v1.MetricsService";
    type Request = Skipped;
    type Response = ExportMetricsServiceResponse;

    fn export(&self, _: Skipped) -> ExportMetricsServiceResponse {
        ExportMetricsServiceResponse {
            partial_success: None,
        }
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
        let traces = TraceSink {
            counts: counts.clone(),
        };
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(Served(traces))
                .add_service(Served(MetricsSink))
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
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
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
                // Real-looking spans: the sink must skip their bodies, not trip on them.
                spans: vec![
                    Span {
                        name: "GET /scim/v2/Users/{id}".into(),
                        trace_id: vec![7; 16],
                        span_id: vec![9; 8],
                        attributes: vec![KeyValue {
                            key: "http.response.status_code".into(),
                            value: Some(AnyValue {
                                value: Some(Value::IntValue(200)),
                            }),
                            ..Default::default()
                        }],
                        ..Default::default()
                    };
                    spans
                ],
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

        let mut metrics = MetricsServiceClient::connect(sink.endpoint())
            .await
            .unwrap();
        metrics
            .export(ExportMetricsServiceRequest::default())
            .await
            .expect("metrics exports are accepted");
    }
}
