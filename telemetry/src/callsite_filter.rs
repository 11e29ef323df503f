//! Per-layer filters decided once per callsite, from its static metadata alone.

use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;

/// A per-layer filter that lets a callsite through when `wants` says so.
///
/// The answer is given once per callsite (`Interest::always` or `never`), so the
/// filter costs nothing per span or event, and `max_level` is its level opinion: the
/// level filter it is combined with still sets the subscriber's maximum, so that, say,
/// every `trace_span!` inside h2 is not evaluated per request.
#[derive(Debug, Clone, Copy)]
pub struct ByCallsite {
    wants: fn(&tracing::Metadata<'_>) -> bool,
    max_level: LevelFilter,
}

impl ByCallsite {
    /// The filter of callsites `wants` accepts, at levels up to `max_level`.
    pub const fn new(wants: fn(&tracing::Metadata<'_>) -> bool, max_level: LevelFilter) -> Self {
        ByCallsite { wants, max_level }
    }
}

impl<S> tracing_subscriber::layer::Filter<S> for ByCallsite {
    fn enabled(
        &self,
        meta: &tracing::Metadata<'_>,
        _: &tracing_subscriber::layer::Context<'_, S>,
    ) -> bool {
        (self.wants)(meta)
    }

    fn callsite_enabled(&self, meta: &'static tracing::Metadata<'static>) -> Interest {
        if (self.wants)(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(self.max_level)
    }
}
