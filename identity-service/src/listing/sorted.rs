//! Keyset pages: every page asked for by token (in any order, creation order included)
//! and every page of a sorted list (RFC 7644 §3.4.2.3; the order is described on
//! `identity.v1.Sort`).
//!
//! * Unfiltered: a keyset walk in the order (`db::sorted_pages`): the page after a row
//!   is the rows after it, found in the column's index, and the page before it is the
//!   same walk in the reverse order, so a token page costs its own rows at any depth;
//!   an index page (`start_index`) of a sorted list steps over the rows before it.
//! * Filtered with an index key: the few candidates are evaluated and sorted in memory.
//! * Filtered otherwise: the tenant's rows are walked in the sort order in batches,
//!   every match counted for the total, as the unsorted scan does.

use std::cmp::Ordering;

use scim_proto::identity::v1 as pb;
use scim_storage::Conn;

use super::{ListKind, ListPage, ListRequest, SCAN_BATCH, decode_all};
use crate::db::counts;
use crate::db::sorted_pages::SortPos;
use crate::error::IdentityError;
use crate::filter::{CompiledFilter, plan};
use crate::paging::{Position, Toward, encode_sorted_token, encode_token};

/// What a list is ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    /// The attribute.
    pub key: pb::SortKey,
    /// Descending instead of ascending.
    pub descending: bool,
}

impl Sort {
    /// Creation order, ascending: the order of every unsorted list.
    pub const CREATION: Sort = Sort {
        key: pb::SortKey::Created,
        descending: false,
    };

    fn reversed(self) -> Sort {
        Sort {
            key: self.key,
            descending: !self.descending,
        }
    }

    /// The request's sort, `None` for creation order ascending (the unsorted lists'
    /// order, which their own paths serve); INVALID_ARGUMENT for a key `K` cannot be
    /// sorted by.
    pub fn of<K: ListKind>(sort: Option<&pb::Sort>) -> Result<Option<Sort>, IdentityError> {
        let Some(s) = sort else { return Ok(None) };
        let key = pb::SortKey::try_from(s.key)
            .ok()
            .filter(|k| K::SORT_KEYS.contains(k))
            .ok_or_else(|| unsupported(K::NAME))?;
        Ok(
            (key != pb::SortKey::Created || s.descending).then_some(Sort {
                key,
                descending: s.descending,
            }),
        )
    }

    /// The part of a list's fingerprint that names this sort, so that a token is only
    /// good for the order it was issued in.
    pub fn fingerprint(self) -> String {
        let dir = if self.descending { 'd' } else { 'a' };
        format!("/{}.{dir}", self.key.as_str_name())
    }

    /// How `a` and `b` compare in this order: the database's order of the same rows.
    pub fn cmp(self, a: &SortPos, b: &SortPos) -> Ordering {
        let ascending = match (&a.value, &b.value) {
            (Some(x), Some(y)) => x.cmp(y).then(a.seq.cmp(&b.seq)),
            // Rows without a value come after every value when ascending.
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => a.seq.cmp(&b.seq),
        };
        if self.descending {
            ascending.reverse()
        } else {
            ascending
        }
    }
}

fn unsupported(kind: &str) -> IdentityError {
    IdentityError::invalid(format!("{kind} cannot be sorted by that attribute"))
}

/// Where the page is, relative to the order.
#[derive(Debug, Clone)]
enum Window {
    /// Index page: from this 1-based position.
    Index(i64),
    /// The page after this row.
    After(SortPos),
    /// The page ending right before this row.
    Before(SortPos),
}

/// The page being collected, with each item's place in the order.
struct Sorted<T> {
    items: Vec<(SortPos, T)>,
    /// More rows follow the page.
    more_after: bool,
    /// Rows come before the page.
    more_before: bool,
}

/// Lists resources of kind `K` in `sort`'s order, a token's page or any page of a
/// sorted list.
pub(super) fn list<K: ListKind>(
    conn: &mut Conn<'_>,
    req: &ListRequest,
    sort: Sort,
) -> Result<ListPage<K::Item>, IdentityError> {
    // Tokens of unsorted lists carry only a seq: in creation order that is the whole
    // position. A sorted list's tokens must carry the sort value too.
    let at = |seq: i64| -> Result<SortPos, IdentityError> {
        match (&req.page.sort_pos, req.sort) {
            (Some(p), Some(_)) => Ok(p.clone()),
            (None, None) => Ok(SortPos { value: None, seq }),
            _ => Err(IdentityError::refused(
                scim_model::ScimType::InvalidCursor,
                "page.page_token was issued for a list in another order",
            )),
        }
    };
    let window = match req.page.position {
        Position::Index(start) => Window::Index(start),
        Position::After(seq) => Window::After(at(seq)?),
        Position::Before(seq) => Window::Before(at(seq)?),
    };
    let count = req.page.count;
    let (page, total, index) = match &req.filter {
        None => {
            let total = counts::read(conn, &req.tenant)?.of(K::KIND).live();
            (unfiltered::<K>(conn, req, sort, &window)?, total, None)
        }
        Some(filter) => match plan::index_key(filter) {
            Some(ix) => {
                let rows = K::lookup(conn, &req.tenant, &ix)?;
                let (page, total) = narrowed::<K>(conn, filter, rows, req, sort, &window)?;
                (page, total, Some(ix.index_name()))
            }
            None => {
                let (page, total) = scan::<K>(conn, filter, req, sort, &window)?;
                (page, total, None)
            }
        },
    };
    let token = |pos: &SortPos, toward| match req.sort {
        Some(_) => encode_sorted_token(K::NAME, pos, &req.fingerprint, toward),
        None => encode_token(K::NAME, pos.seq, &req.fingerprint, toward),
    };
    let next_token = match page.items.last() {
        Some((pos, _)) if page.more_after && count > 0 => token(pos, Toward::Next),
        _ => String::new(),
    };
    let previous_token = match page.items.first() {
        Some((pos, _)) if page.more_before => token(pos, Toward::Previous),
        _ => String::new(),
    };
    let needs = req
        .filter
        .as_ref()
        .is_some_and(CompiledFilter::needs_related);
    let mut items: Vec<(i64, K::Item)> = page
        .items
        .into_iter()
        .map(|(pos, item)| (pos.seq, item))
        .collect();
    if req.include_related && !needs {
        K::attach_related(conn, &req.tenant, &mut items)?;
    } else if !req.include_related && needs {
        items
            .iter_mut()
            .for_each(|(_, item)| K::strip_related(item));
    }
    Ok(ListPage {
        items: items.into_iter().map(|(_, item)| item).collect(),
        total,
        // A token page is a seek and does not count the rows before it.
        start_index: match window {
            Window::Index(start) => start,
            _ => 0,
        },
        next_token,
        previous_token,
        index,
    })
}

/// Decodes `rows` with their positions in the order.
fn positioned<K: ListKind>(
    conn: &mut Conn<'_>,
    req: &ListRequest,
    rows: &[K::Row],
    sort: Sort,
    related: bool,
) -> Result<Vec<(SortPos, K::Item)>, IdentityError> {
    let positions: Vec<SortPos> = rows.iter().map(|r| K::sort_pos(r, sort.key)).collect();
    let items = decode_all::<K>(conn, &req.tenant, rows, related)?;
    Ok(positions
        .into_iter()
        .zip(items)
        .map(|(p, (_, item))| (p, item))
        .collect())
}

fn walk<K: ListKind>(
    conn: &mut Conn<'_>,
    tenant: &str,
    sort: Sort,
    from: Option<&SortPos>,
    limit: i64,
) -> Result<Vec<K::Row>, IdentityError> {
    // Forward in creation order (every cursor walk of an unsorted list) takes the
    // prepared statement the index pages use.
    if sort == Sort::CREATION {
        return Ok(K::after(conn, tenant, from.map_or(0, |p| p.seq), limit)?);
    }
    Ok(K::sorted(conn, tenant, sort, from, limit).ok_or_else(|| unsupported(K::NAME))??)
}

fn unfiltered<K: ListKind>(
    conn: &mut Conn<'_>,
    req: &ListRequest,
    sort: Sort,
    window: &Window,
) -> Result<Sorted<K::Item>, IdentityError> {
    let tenant = req.tenant.as_str();
    let count = req.page.count;
    let (rows, more_after, more_before) = match window {
        _ if count == 0 => (Vec::new(), false, false),
        Window::Index(start) => {
            // The rows before the page are stepped over a batch at a time, so memory
            // stays bounded however deep the page is; only their positions are kept.
            let mut skip = start - 1;
            let mut from: Option<SortPos> = None;
            while skip > 0 {
                let step = skip.min(SCAN_BATCH);
                let rows = walk::<K>(conn, tenant, sort, from.as_ref(), step)?;
                let Some(last) = rows.last() else { break };
                from = Some(K::sort_pos(last, sort.key));
                skip -= rows.len() as i64;
                if (rows.len() as i64) < step {
                    break;
                }
            }
            let mut rows = if skip > 0 {
                Vec::new()
            } else {
                walk::<K>(conn, tenant, sort, from.as_ref(), count + 1)?
            };
            let more = rows.len() as i64 > count;
            rows.truncate(count as usize);
            (rows, more, *start > 1)
        }
        Window::After(pos) => {
            let mut rows = walk::<K>(conn, tenant, sort, Some(pos), count + 1)?;
            let more = rows.len() as i64 > count;
            rows.truncate(count as usize);
            (rows, more, true)
        }
        Window::Before(pos) => {
            let mut rows = walk::<K>(conn, tenant, sort.reversed(), Some(pos), count + 1)?;
            let more = rows.len() as i64 > count;
            rows.truncate(count as usize);
            rows.reverse();
            (rows, true, more)
        }
    };
    let items = positioned::<K>(conn, req, &rows, sort, false)?;
    Ok(Sorted {
        items,
        more_after,
        more_before,
    })
}

/// The page of `matched` (every match, in order) the window asks for.
fn window_of<T>(count: i64, sort: Sort, window: &Window, matched: Vec<(SortPos, T)>) -> Sorted<T> {
    let count = count as usize;
    let (skip, take) = match window {
        Window::Index(start) => ((*start - 1) as usize, count),
        Window::After(from) => (
            matched
                .iter()
                .take_while(|(p, _)| sort.cmp(p, from) != Ordering::Greater)
                .count(),
            count,
        ),
        Window::Before(until) => {
            let before = matched
                .iter()
                .take_while(|(p, _)| sort.cmp(p, until) == Ordering::Less)
                .count();
            (before.saturating_sub(count), before.min(count))
        }
    };
    let total = matched.len();
    let items: Vec<(SortPos, T)> = matched.into_iter().skip(skip).take(take).collect();
    Sorted {
        more_after: skip + items.len() < total,
        more_before: skip > 0,
        items,
    }
}

fn narrowed<K: ListKind>(
    conn: &mut Conn<'_>,
    filter: &CompiledFilter,
    rows: Vec<K::Row>,
    req: &ListRequest,
    sort: Sort,
    window: &Window,
) -> Result<(Sorted<K::Item>, i64), IdentityError> {
    let mut matched: Vec<(SortPos, K::Item)> =
        positioned::<K>(conn, req, &rows, sort, filter.needs_related())?
            .into_iter()
            .filter(|(_, item)| filter.matches(item))
            .collect();
    matched.sort_by(|(a, _), (b, _)| sort.cmp(a, b));
    let total = matched.len() as i64;
    Ok((window_of(req.page.count, sort, window, matched), total))
}

/// A filter without an index key: every row is evaluated (the total counts every
/// match), walking the order in batches; only the window's matches are kept.
fn scan<K: ListKind>(
    conn: &mut Conn<'_>,
    filter: &CompiledFilter,
    req: &ListRequest,
    sort: Sort,
    window: &Window,
) -> Result<(Sorted<K::Item>, i64), IdentityError> {
    let tenant = req.tenant.as_str();
    let count = req.page.count as usize;
    let related = filter.needs_related();
    let mut from: Option<SortPos> = None;
    let mut matches: i64 = 0;
    // Index and After windows keep the page and one more; a Before window keeps the
    // last `count + 1` matches before its row.
    let mut kept: std::collections::VecDeque<(SortPos, K::Item)> = Default::default();
    let mut skipped_before = 0usize;
    let mut after_page = 0usize;
    loop {
        let rows = walk::<K>(conn, tenant, sort, from.as_ref(), SCAN_BATCH)?;
        let Some(last) = rows.last() else { break };
        from = Some(K::sort_pos(last, sort.key));
        let batch = rows.len() as i64;
        for (pos, item) in positioned::<K>(conn, req, &rows, sort, related)? {
            if !filter.matches(&item) {
                continue;
            }
            matches += 1;
            match window {
                Window::Index(start) if matches < *start => skipped_before += 1,
                Window::After(p) if sort.cmp(&pos, p) != Ordering::Greater => skipped_before += 1,
                Window::Before(p) if sort.cmp(&pos, p) != Ordering::Less => after_page += 1,
                Window::Before(_) => {
                    kept.push_back((pos, item));
                    if kept.len() > count {
                        kept.pop_front();
                        skipped_before += 1;
                    }
                }
                _ if kept.len() < count => kept.push_back((pos, item)),
                _ => after_page += 1,
            }
        }
        if batch < SCAN_BATCH {
            break;
        }
    }
    Ok((
        Sorted {
            items: kept.into_iter().collect(),
            more_after: after_page > 0,
            more_before: skipped_before > 0,
        },
        matches,
    ))
}
