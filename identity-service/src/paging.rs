//! Paging: page requests, continuation tokens and the cursor cache.
//!
//! Lists are ordered by `seq` (creation order), which never changes, so a position can be
//! remembered as "after seq S". Two ways to page:
//!
//! * Index paging (`start_index`, `count`), as SCIM clients do (`1, 101, 201, ...`). A
//!   [`CursorCache`] remembers, per (tenant, kind, filter fingerprint, start index), the
//!   last seq served before that index, so the next sequential page is
//!   `seq > S ORDER BY seq LIMIT count` instead of an `OFFSET` scan. On a miss the
//!   list falls back to `OFFSET`.
//! * Continuation tokens: `next_page_token` is base64url of `kind:last_seq:fingerprint`;
//!   a token used with another kind or filter is refused as `invalidCursor`. Tokens are not
//!   secret: every query is still limited to the caller's tenant.
//!
//! * An order index: per (tenant, kind), the number of rows and the seq at every
//!   [`ORDER_SAMPLE`]-th position, built by one walk of the `(tenant, seq)` index the
//!   first time a page needs a position nothing else knows. Until the next create or
//!   delete, any `startIndex` is then a seek to the nearest sample plus an `OFFSET` below
//!   [`ORDER_SAMPLE`], and unfiltered totals need no `COUNT`. It holds one number per
//!   [`ORDER_SAMPLE`] rows (about 12 KiB per 100,000).
//!
//! Cache validity: every cursor records the generation it was read under, and a list
//! reads the current generations in its own snapshot, from the database
//! ([`crate::db::counts`]): the *order* generation of a kind changes with every create
//! and delete of that kind (positions may shift), the *content* generation with every
//! write in the tenant (a filtered result may change). Unfiltered cursors check the
//! first, filtered ones the second. The cache lives in the process, but its validity
//! does not: a replica sees every other replica's writes the moment they commit, and
//! a stale entry is never used.
//!
//! A request without a `page` message gets the first page of the maximum size. `count`
//! is capped at the configured maximum ([`DEFAULT_MAX_PAGE_SIZE`] by default), negative
//! counts mean 0, and 0 returns only the total.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use scim_proto::identity::v1 as pb;

use crate::db::counts::{Kind, TenantCounts};
use crate::db::sorted_pages::SortPos;
use crate::error::IdentityError;
use scim_model::ScimType;

/// The default cap on `count`.
pub const DEFAULT_MAX_PAGE_SIZE: i64 = 1000;

/// How many cursors the cache holds before it starts over.
const MAX_CURSORS: usize = 10_000;

/// One order-index sample per this many rows.
pub const ORDER_SAMPLE: usize = 64;

/// How many (tenant, kind) order indexes the cache holds before it starts over.
const MAX_ORDER_INDEXES: usize = 1_000;

/// Where a page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// 1-based index of the first result.
    Index(i64),
    /// Right after this seq (from a continuation token).
    After(i64),
    /// The page that ends right before this seq (from a previous-page token).
    Before(i64),
}

/// A checked page request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageSpec {
    /// Where the page starts.
    pub position: Position,
    /// How many results at most (already capped).
    pub count: i64,
    /// On a sorted list's continuation page, the sort value and seq it continues after
    /// (`position` is then `After` that seq).
    pub sort_pos: Option<SortPos>,
}

impl PageSpec {
    /// Checks a request's page for a list of `kind` filtered by `fingerprint`.
    pub fn from_request(
        page: Option<&pb::PageRequest>,
        max_page_size: i64,
        kind: &str,
        fingerprint: &str,
    ) -> Result<Self, IdentityError> {
        let Some(page) = page else {
            return Ok(PageSpec {
                position: Position::Index(1),
                count: max_page_size,
                sort_pos: None,
            });
        };
        let count = page.count.clamp(0, max_page_size);
        if page.page_token.is_empty() {
            return Ok(PageSpec {
                position: Position::Index(page.start_index.max(1)),
                count,
                sort_pos: None,
            });
        }
        let (position, value) = decode_token(&page.page_token, kind, fingerprint)?;
        let seq = match position {
            Position::After(s) | Position::Before(s) | Position::Index(s) => s,
        };
        Ok(PageSpec {
            position,
            count,
            sort_pos: value.map(|value| SortPos { value, seq }),
        })
    }
}

/// Which way a token pages from the row it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toward {
    /// The page after the row (`next_page_token`).
    Next,
    /// The page before the row (`previous_page_token`); its seq is written `<seq`.
    Previous,
}

fn seq_text(seq: i64, toward: Toward) -> String {
    match toward {
        Toward::Next => seq.to_string(),
        Toward::Previous => format!("<{seq}"),
    }
}

/// The continuation token for the page of `kind` after (or before) the row `seq`.
pub fn encode_token(kind: &str, seq: i64, fingerprint: &str, toward: Toward) -> String {
    let seq = seq_text(seq, toward);
    URL_SAFE_NO_PAD.encode(format!("{kind}:{seq}:{fingerprint}"))
}

/// The continuation token for the page of a sorted list after (or before) the row at
/// `at`: the plain token's fields and the row's sort value (`-` for none, else `+value`).
pub fn encode_sorted_token(kind: &str, at: &SortPos, fingerprint: &str, toward: Toward) -> String {
    let value = match &at.value {
        None => "-".to_owned(),
        Some(v) => format!("+{v}"),
    };
    let seq = seq_text(at.seq, toward);
    URL_SAFE_NO_PAD.encode(format!("{kind}:{seq}:{fingerprint}:{value}"))
}

/// Longest token accepted: a sorted list's carries a sort value, which is at most an
/// identifying value long (base64 makes it a third longer).
const MAX_TOKEN_BYTES: usize = 2 * scim_model::limits::MAX_NAME_BYTES;

/// Where a token's page is (after or before a seq), and on a sorted list's token the
/// sort value; refused (`invalidCursor`) unless it was issued for the same kind of list,
/// the same filter and the same sort. Tokens name a position, not server state, so
/// they never expire.
pub fn decode_token(
    token: &str,
    kind: &str,
    fingerprint: &str,
) -> Result<(Position, Option<Option<String>>), IdentityError> {
    let malformed =
        || IdentityError::refused(ScimType::InvalidCursor, "page.page_token is malformed");
    if token.len() > MAX_TOKEN_BYTES {
        return Err(malformed());
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .map_err(|_| malformed())?;
    let text = String::from_utf8(bytes).map_err(|_| malformed())?;
    let mut parts = text.splitn(4, ':');
    let (Some(k), Some(seq), Some(fp)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(malformed());
    };
    let value = match parts.next() {
        None => None,
        Some("-") => Some(None),
        Some(v) => Some(Some(v.strip_prefix('+').ok_or_else(malformed)?.to_owned())),
    };
    let position = match seq.strip_prefix('<') {
        Some(s) => Position::Before(s.parse().map_err(|_| malformed())?),
        None => Position::After(seq.parse().map_err(|_| malformed())?),
    };
    if k != kind || fp != fingerprint {
        return Err(IdentityError::refused(
            ScimType::InvalidCursor,
            "page.page_token was issued for a different list, filter or sort",
        ));
    }
    Ok((position, value))
}

/// The write generations a list is read under; see the module doc.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Generations {
    /// Changes with every create and delete of the listed kind.
    pub order: u64,
    /// Changes with every write in the tenant.
    pub content: u64,
}

impl Generations {
    /// The generations of a list of `kind` under `counts`.
    pub fn of(counts: &TenantCounts, kind: Kind) -> Self {
        let k = counts.of(kind);
        let all = |k: crate::db::counts::KindCounts| k.created + k.deleted + k.changed;
        // Counters never decrease, so each sum grows with every change it covers.
        Generations {
            order: (k.created + k.deleted) as u64,
            content: (all(counts.users) + all(counts.groups)) as u64,
        }
    }
}

/// A remembered position: the last seq served before some start index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The last seq served before the start index.
    pub last_seq: i64,
    /// The total of a filtered list (unfiltered totals are counted on the index).
    pub total: Option<i64>,
    generation: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CursorKey {
    tenant: String,
    kind: &'static str,
    fingerprint: String,
    start_index: i64,
}

/// The row count and sampled positions of one unfiltered list; see the module doc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderIndex {
    /// Rows in the list.
    pub total: i64,
    /// The seq at positions 0, [`ORDER_SAMPLE`], 2 × [`ORDER_SAMPLE`], … (0-based).
    pub samples: Vec<i64>,
    generation: u64,
}

impl OrderIndex {
    /// Where the row at 0-based `position` is found: the seq of the sample at or before
    /// it, and how many rows from that sample on to skip. `None` past the end.
    pub fn locate(&self, position: i64) -> Option<(i64, i64)> {
        if position < 0 || position >= self.total {
            return None;
        }
        let position = usize::try_from(position).ok()?;
        let sample = *self.samples.get(position / ORDER_SAMPLE)?;
        Some((sample, (position % ORDER_SAMPLE) as i64))
    }
}

#[derive(Debug, Default)]
struct Inner {
    cursors: HashMap<CursorKey, Cursor>,
    orders: HashMap<(String, &'static str), Arc<OrderIndex>>,
}

/// The in-process cursor cache; see the module doc.
#[derive(Debug, Default)]
pub struct CursorCache {
    inner: Mutex<Inner>,
}

/// Identifies one list: tenant, kind and filter fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListKey {
    /// The tenant.
    pub tenant: String,
    /// `users` or `groups`.
    pub kind: &'static str,
    /// The filter's fingerprint, empty when unfiltered.
    pub fingerprint: String,
}

impl ListKey {
    fn generation(&self, g: Generations) -> u64 {
        if self.fingerprint.is_empty() {
            g.order
        } else {
            g.content
        }
    }

    fn cursor_key(&self, start_index: i64) -> CursorKey {
        CursorKey {
            tenant: self.tenant.clone(),
            kind: self.kind,
            fingerprint: self.fingerprint.clone(),
            start_index,
        }
    }
}

impl CursorCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cursor for `start_index`, if still valid under `generations`.
    pub fn lookup(
        &self,
        list: &ListKey,
        start_index: i64,
        generations: Generations,
    ) -> Option<Cursor> {
        let inner = self.lock();
        let cursor = inner.cursors.get(&list.cursor_key(start_index))?;
        (cursor.generation == list.generation(generations)).then_some(*cursor)
    }

    /// The order index of `tenant`'s `kind` list, if still valid under `generations`.
    pub fn order_index(
        &self,
        tenant: &str,
        kind: &'static str,
        generations: Generations,
    ) -> Option<Arc<OrderIndex>> {
        let inner = self.lock();
        let index = inner.orders.get(&(tenant.to_owned(), kind))?;
        (index.generation == generations.order).then(|| index.clone())
    }

    /// Remembers an order index read under `generations`, and returns it.
    pub fn store_order_index(
        &self,
        tenant: &str,
        kind: &'static str,
        generations: Generations,
        total: i64,
        samples: Vec<i64>,
    ) -> Arc<OrderIndex> {
        let index = Arc::new(OrderIndex {
            total,
            samples,
            generation: generations.order,
        });
        let mut inner = self.lock();
        if inner.orders.len() >= MAX_ORDER_INDEXES {
            inner.orders.clear();
        }
        inner
            .orders
            .insert((tenant.to_owned(), kind), index.clone());
        index
    }

    /// Remembers that the page before `start_index` ended at `last_seq`.
    pub fn store(
        &self,
        list: &ListKey,
        start_index: i64,
        generations: Generations,
        last_seq: i64,
        total: Option<i64>,
    ) {
        let mut inner = self.lock();
        if inner.cursors.len() >= MAX_CURSORS {
            inner.cursors.clear();
        }
        inner.cursors.insert(
            list.cursor_key(start_index),
            Cursor {
                last_seq,
                total,
                generation: list.generation(generations),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::counts::KindCounts;

    fn list(fp: &str) -> ListKey {
        ListKey {
            tenant: "t".into(),
            kind: "users",
            fingerprint: fp.into(),
        }
    }

    fn counts(users: (i64, i64, i64), groups: (i64, i64, i64)) -> TenantCounts {
        let k = |(created, deleted, changed)| KindCounts {
            created,
            deleted,
            changed,
        };
        TenantCounts {
            users: k(users),
            groups: k(groups),
        }
    }

    #[test]
    fn tokens_round_trip_and_are_bound_to_kind_and_filter() {
        let t = encode_token("users", 42, "abc", Toward::Next);
        assert_eq!(
            decode_token(&t, "users", "abc").unwrap(),
            (Position::After(42), None)
        );
        let back = encode_token("users", 42, "abc", Toward::Previous);
        assert_eq!(
            decode_token(&back, "users", "abc").unwrap(),
            (Position::Before(42), None)
        );
        let pos = SortPos {
            value: Some("a:b".into()),
            seq: 7,
        };
        let sorted = encode_sorted_token("users", &pos, "f/user_name.d", Toward::Next);
        assert_eq!(
            decode_token(&sorted, "users", "f/user_name.d").unwrap(),
            (Position::After(7), Some(Some("a:b".into())))
        );
        assert!(decode_token(&sorted, "users", "f/user_name.a").is_err());
        let none = SortPos {
            value: None,
            seq: 3,
        };
        let none = encode_sorted_token("users", &none, "f", Toward::Previous);
        assert_eq!(
            decode_token(&none, "users", "f").unwrap(),
            (Position::Before(3), Some(None))
        );
        assert!(decode_token(&t, "groups", "abc").is_err());
        assert!(decode_token(&t, "users", "").is_err());
        assert!(decode_token("!!!", "users", "").is_err());
        assert!(decode_token(&URL_SAFE_NO_PAD.encode("users:x:"), "users", "").is_err());
    }

    #[test]
    fn counts_are_capped_and_start_indexes_floored() {
        let req = pb::PageRequest {
            start_index: -5,
            count: 5000,
            page_token: String::new(),
        };
        let spec = PageSpec::from_request(Some(&req), 1000, "users", "").unwrap();
        assert_eq!(spec.position, Position::Index(1));
        assert_eq!(spec.count, 1000);
        let none = PageSpec::from_request(None, 50, "users", "").unwrap();
        assert_eq!(none.count, 50);
    }

    #[test]
    fn generations_follow_the_counters() {
        let start = counts((10, 2, 5), (3, 0, 1));
        let g = Generations::of(&start, Kind::Users);
        let updated = Generations::of(&counts((10, 2, 6), (3, 0, 1)), Kind::Users);
        assert_eq!(updated.order, g.order, "an update keeps positions");
        assert_ne!(updated.content, g.content);
        // A create and a delete leave the total alone but both move the order.
        let churned = Generations::of(&counts((11, 3, 5), (3, 0, 1)), Kind::Users);
        assert_ne!(churned.order, g.order);
        let other_kind = Generations::of(&counts((10, 2, 5), (4, 0, 1)), Kind::Users);
        assert_eq!(other_kind.order, g.order, "groups do not move users");
        assert_ne!(
            other_kind.content, g.content,
            "but may change a filtered result"
        );
    }

    #[test]
    fn unfiltered_cursors_survive_updates_but_not_deletes() {
        let cache = CursorCache::default();
        let g = Generations::of(&counts((5, 0, 0), (0, 0, 0)), Kind::Users);
        cache.store(&list(""), 101, g, 7, None);
        let g2 = Generations::of(&counts((5, 0, 1), (0, 0, 0)), Kind::Users);
        assert_eq!(
            cache.lookup(&list(""), 101, g2).map(|c| c.last_seq),
            Some(7)
        );
        let g3 = Generations::of(&counts((5, 1, 1), (0, 0, 0)), Kind::Users);
        assert!(cache.lookup(&list(""), 101, g3).is_none());
    }

    #[test]
    fn filtered_cursors_do_not_survive_updates() {
        let cache = CursorCache::default();
        let g = Generations::of(&counts((5, 0, 0), (0, 0, 0)), Kind::Users);
        cache.store(&list("f"), 101, g, 7, Some(300));
        let g2 = Generations::of(&counts((5, 0, 1), (0, 0, 0)), Kind::Users);
        assert!(cache.lookup(&list("f"), 101, g2).is_none());
    }

    #[test]
    fn order_index_locates_positions_and_dies_with_creates_and_deletes() {
        let cache = CursorCache::default();
        let g = Generations::of(&counts((150, 0, 0), (0, 0, 0)), Kind::Users);
        // 150 rows with seqs 10, 20, …: samples at positions 0, 64, 128.
        let samples = vec![10, 650, 1290];
        cache.store_order_index("t", "users", g, 150, samples);
        let index = cache.order_index("t", "users", g).expect("valid");
        assert_eq!(index.locate(0), Some((10, 0)));
        assert_eq!(index.locate(63), Some((10, 63)));
        assert_eq!(index.locate(64), Some((650, 0)));
        assert_eq!(index.locate(149), Some((1290, 21)));
        assert_eq!(index.locate(150), None);
        assert_eq!(index.locate(-1), None);
        assert!(cache.order_index("t", "groups", g).is_none());
        let updated = Generations::of(&counts((150, 0, 9), (0, 0, 0)), Kind::Users);
        assert!(
            cache.order_index("t", "users", updated).is_some(),
            "updates keep the order"
        );
        let created = Generations::of(&counts((151, 0, 9), (0, 0, 0)), Kind::Users);
        assert!(
            cache.order_index("t", "users", created).is_none(),
            "a create moves positions"
        );
    }
}
