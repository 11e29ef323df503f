//! Field formatting of text log lines, without the colour machinery when there is no
//! colour.
//!
//! The log layer formats the request span's fields into a string as the span opens and
//! as fields are recorded, whether or not a line is ever written. tracing-subscriber's
//! `DefaultFields` sends every name and `=` through nu-ansi-term even with colours off,
//! which made it most of the log layer's cost per request (docs/PERFORMANCE.md).
//! [`TextFields`] writes the same text directly; anything it does not handle the same
//! way by construction (colours on, messages, errors, raw identifiers, strings that
//! need escaping) goes to `DefaultFields`' own visitor, so log lines do not change.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing_subscriber::field::{MakeVisitor, VisitFmt, VisitOutput};
use tracing_subscriber::fmt::format::{DefaultVisitor, Writer};

/// `DefaultFields`' output, written without nu-ansi-term when colours are off.
#[derive(Debug, Default, Clone, Copy)]
pub struct TextFields;

impl<'a> MakeVisitor<Writer<'a>> for TextFields {
    type Visitor = TextVisitor<'a>;

    fn make_visitor(&self, target: Writer<'a>) -> TextVisitor<'a> {
        TextVisitor {
            plain: !target.has_ansi_escapes(),
            writer: target,
            is_empty: true,
            result: Ok(()),
        }
    }
}

/// The visitor of [`TextFields`].
pub struct TextVisitor<'a> {
    writer: Writer<'a>,
    plain: bool,
    is_empty: bool,
    result: fmt::Result,
}

impl fmt::Debug for TextVisitor<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TextVisitor")
            .field("is_empty", &self.is_empty)
            .finish_non_exhaustive()
    }
}

/// A string whose `Debug` form is itself in quotes: printable ASCII without `"` or `\`.
fn needs_no_escaping(s: &str) -> bool {
    s.bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
}

impl TextVisitor<'_> {
    /// Whether this field is written here rather than by `DefaultVisitor`.
    fn direct(&self, name: &str) -> bool {
        self.plain && name != "message" && !name.starts_with("r#")
    }

    /// `DefaultVisitor` writes this field, continuing where this visitor is.
    fn delegate(&mut self, record: impl FnOnce(&mut DefaultVisitor<'_>)) {
        let mut inner = DefaultVisitor::new(self.writer.by_ref(), self.is_empty);
        record(&mut inner);
        self.result = inner.finish();
        self.is_empty = false;
    }

    /// ` name=` (the space only between fields).
    fn start(&mut self, name: &str) -> fmt::Result {
        if self.is_empty {
            self.is_empty = false;
        } else {
            self.writer.write_char(' ')?;
        }
        self.writer.write_str(name)?;
        self.writer.write_char('=')
    }

    /// Writes `name=<value>` with `write_value`, or hands the field to `DefaultVisitor`.
    fn field(
        &mut self,
        field: &Field,
        write_value: impl FnOnce(&mut Writer<'_>) -> fmt::Result,
        otherwise: impl FnOnce(&mut DefaultVisitor<'_>),
    ) {
        if self.result.is_err() {
            return;
        }
        let name = field.name();
        // `DefaultVisitor` leaves out `log.*` fields (the `log` crate's metadata, which
        // the line already shows) without writing a separator; skipping them here keeps
        // the separator right when later fields are delegated.
        if name.starts_with("log.") {
            return;
        }
        if !self.direct(name) {
            return self.delegate(otherwise);
        }
        self.result = self
            .start(name)
            .and_then(|()| write_value(&mut self.writer));
    }
}

impl Visit for TextVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.field(
            field,
            |w| {
                if needs_no_escaping(value) {
                    w.write_char('"')?;
                    w.write_str(value)?;
                    w.write_char('"')
                } else {
                    write!(w, "{value:?}")
                }
            },
            |v| v.record_str(field, value),
        );
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.field(
            field,
            |w| write!(w, "{value}"),
            |v| v.record_i64(field, value),
        );
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.field(
            field,
            |w| write!(w, "{value}"),
            |v| v.record_u64(field, value),
        );
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.field(
            field,
            |w| write!(w, "{value}"),
            |v| v.record_bool(field, value),
        );
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if self.result.is_ok() {
            self.delegate(|v| v.record_error(field, value));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.field(
            field,
            |w| write!(w, "{value:?}"),
            |v| v.record_debug(field, value),
        );
    }
}

impl VisitOutput<fmt::Result> for TextVisitor<'_> {
    fn finish(self) -> fmt::Result {
        self.result
    }
}

impl VisitFmt for TextVisitor<'_> {
    fn writer(&mut self) -> &mut dyn fmt::Write {
        &mut self.writer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::fmt::FormatFields as _;
    use tracing_subscriber::fmt::format::DefaultFields;
    use tracing_subscriber::layer::{Context, SubscriberExt as _};

    /// Formats every span's and event's fields both ways and keeps the pairs.
    #[derive(Default, Clone)]
    struct Compare(std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>);

    impl Compare {
        fn both(&self, fields: impl tracing_subscriber::field::RecordFields + Copy) {
            let (mut ours, mut theirs) = (String::new(), String::new());
            TextFields
                .format_fields(Writer::new(&mut ours), fields)
                .unwrap();
            DefaultFields::new()
                .format_fields(Writer::new(&mut theirs), fields)
                .unwrap();
            self.0.lock().unwrap().push((ours, theirs));
        }
    }

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Compare {
        fn on_new_span(
            &self,
            attrs: &tracing::span::Attributes<'_>,
            _: &tracing::Id,
            _: Context<'_, S>,
        ) {
            self.both(attrs);
        }

        fn on_record(
            &self,
            _: &tracing::Id,
            values: &tracing::span::Record<'_>,
            _: Context<'_, S>,
        ) {
            self.both(values);
        }

        fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
            self.both(event);
        }
    }

    #[derive(Debug)]
    struct Outer(std::io::Error);

    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("outer")
        }
    }

    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn fields_are_written_exactly_as_default_fields_writes_them() {
        let compare = Compare::default();
        let subscriber = tracing_subscriber::registry().with(compare.clone());
        tracing::subscriber::with_default(subscriber, || {
            let path = "identity.v1.IdentityService/GetUser";
            let span = tracing::info_span!(
                "grpc.server",
                otel.name = %path,
                otel.kind = "server",
                rpc.grpc.status_code = tracing::field::Empty,
                quoted = "say \"hi\"\\",
                unicode = "zoë\u{7}\u{301}",
                number = -3i64,
                big = u64::MAX,
                flag = true,
                ratio = 0.5f64,
                wide = 1u128,
                r#type = "raw",
                debug = ?Some("x"),
            );
            span.record("rpc.grpc.status_code", 0);
            let error = Outer(std::io::Error::other("inner"));
            tracing::info!(
                parent: &span,
                reason = "why",
                error = &error as &(dyn std::error::Error + 'static),
                "message with \u{1b}[31m escape {}",
                1
            );
            tracing::warn!(log.target = "x", after = 2u64, "only fields");
            tracing::info_span!("empty").in_scope(|| {});
        });
        let pairs = compare.0.lock().unwrap().clone();
        assert_eq!(pairs.len(), 5);
        for (ours, theirs) in &pairs {
            assert_eq!(ours, theirs);
        }
        // The fast paths were taken: the span's fields came out whole.
        assert!(
            pairs[0]
                .0
                .starts_with("otel.name=identity.v1.IdentityService/GetUser otel.kind=\"server\"")
        );
    }
}
