//! Head sampling, configured by the standard `OTEL_TRACES_SAMPLER` variables.

use opentelemetry::trace::TraceId;

/// Which spans are recorded and exported.
///
/// The six samplers of the OpenTelemetry specification's environment variables; the
/// decision is made per span, from the span's trace id and, for the parent-based ones,
/// the parent's decision, so every span of one trace gets the same answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Sampler {
    /// Every span.
    AlwaysOn,
    /// No span.
    AlwaysOff,
    /// A fixed share of traces, chosen by trace id (`0.0..=1.0`).
    TraceIdRatio(f64),
    /// The parent's decision when there is a parent; the inner sampler's for roots.
    ParentBased(Box<Sampler>),
}

impl Default for Sampler {
    /// `parentbased_always_on`, the specification's default.
    fn default() -> Self {
        Sampler::ParentBased(Box::new(Sampler::AlwaysOn))
    }
}

/// An `OTEL_TRACES_SAMPLER` value this stack does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown OTEL_TRACES_SAMPLER {0:?}; using parentbased_always_on")]
pub struct UnknownSampler(pub String);

impl Sampler {
    /// The sampler the standard variables name: `OTEL_TRACES_SAMPLER` and, for the ratio
    /// samplers, `OTEL_TRACES_SAMPLER_ARG` (default 1.0).
    pub fn from_env() -> Result<Sampler, UnknownSampler> {
        Sampler::parse(
            std::env::var("OTEL_TRACES_SAMPLER").ok().as_deref(),
            std::env::var("OTEL_TRACES_SAMPLER_ARG").ok().as_deref(),
        )
    }

    /// The sampler a name and an argument describe; no name is the default.
    pub fn parse(name: Option<&str>, arg: Option<&str>) -> Result<Sampler, UnknownSampler> {
        // A missing, unparsable or out-of-range ratio means "all", as the SDKs read it.
        let ratio = || {
            arg.and_then(|a| a.trim().parse::<f64>().ok())
                .filter(|r| (0.0..=1.0).contains(r))
                .unwrap_or(1.0)
        };
        let parent_based = |s| Sampler::ParentBased(Box::new(s));
        Ok(match name.map(str::trim).unwrap_or("") {
            "" | "parentbased_always_on" => parent_based(Sampler::AlwaysOn),
            "always_on" => Sampler::AlwaysOn,
            "always_off" => Sampler::AlwaysOff,
            "traceidratio" => Sampler::TraceIdRatio(ratio()),
            "parentbased_always_off" => parent_based(Sampler::AlwaysOff),
            "parentbased_traceidratio" => parent_based(Sampler::TraceIdRatio(ratio())),
            other => return Err(UnknownSampler(other.to_owned())),
        })
    }

    /// Whether a span of `trace_id` is sampled; `parent` is the parent's decision, if the
    /// span has a parent (local or remote).
    pub fn should_sample(&self, parent: Option<bool>, trace_id: TraceId) -> bool {
        match self {
            Sampler::AlwaysOn => true,
            Sampler::AlwaysOff => false,
            Sampler::TraceIdRatio(ratio) => {
                // The specification's rule, the same as the SDKs': the trace id's low
                // 63 bits against the ratio's share of them, so every service that sees
                // the trace decides alike.
                let bound = (ratio.clamp(0.0, 1.0) * (1u64 << 63) as f64) as u64;
                let low = u64::from_be_bytes(
                    trace_id.to_bytes()[8..]
                        .try_into()
                        .expect("a trace id has 16 bytes"),
                );
                (low >> 1) < bound
            }
            Sampler::ParentBased(root) => match parent {
                Some(sampled) => sampled,
                None => root.should_sample(None, trace_id),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(low: u64) -> TraceId {
        TraceId::from(u128::from(low) | (7u128 << 64))
    }

    #[test]
    fn the_standard_names_are_read_and_an_unknown_one_is_refused() {
        assert_eq!(Sampler::parse(None, None), Ok(Sampler::default()));
        assert_eq!(
            Sampler::parse(Some("always_off"), None),
            Ok(Sampler::AlwaysOff)
        );
        assert_eq!(
            Sampler::parse(Some("parentbased_traceidratio"), Some("0.25")),
            Ok(Sampler::ParentBased(Box::new(Sampler::TraceIdRatio(0.25))))
        );
        assert_eq!(
            Sampler::parse(Some("traceidratio"), Some("2")),
            Ok(Sampler::TraceIdRatio(1.0))
        );
        assert_eq!(
            Sampler::parse(Some("jaeger_remote"), None),
            Err(UnknownSampler("jaeger_remote".into()))
        );
    }

    #[test]
    fn parent_based_follows_the_parent_and_samples_roots_with_its_inner_sampler() {
        let s = Sampler::ParentBased(Box::new(Sampler::AlwaysOff));
        assert!(s.should_sample(Some(true), id(1)));
        assert!(!s.should_sample(Some(false), id(1)));
        assert!(!s.should_sample(None, id(1)));
        assert!(Sampler::AlwaysOn.should_sample(Some(false), id(1)));
    }

    #[test]
    fn the_ratio_splits_trace_ids_by_their_low_bits() {
        let half = Sampler::TraceIdRatio(0.5);
        assert!(half.should_sample(None, id(0)));
        assert!(half.should_sample(None, id((1 << 62) - 1)));
        assert!(!half.should_sample(None, id(1 << 63)));
        assert!(!Sampler::TraceIdRatio(0.0).should_sample(None, id(0)));
        assert!(Sampler::TraceIdRatio(1.0).should_sample(None, id(u64::MAX)));
        let sampled = (0..1000u64)
            .filter(|i| half.should_sample(None, id(i.wrapping_mul(0x9e37_79b9_7f4a_7c15))))
            .count();
        assert!((400..600).contains(&sampled), "{sampled}");
    }
}
