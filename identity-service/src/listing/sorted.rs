//! Sorted lists (RFC 7644 §3.4.2.3; the order is described on `identity.v1.Sort`).
//!
//! * Unfiltered: a keyset walk in the sort order (`db::sorted_pages`): a continuation
//!   page is the rows after the last one served, found in the column's index, so a
//!   cursor page costs its own rows at any depth; an index page (`start_index`) steps
//!   over the rows before it.
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
use crate::paging::{Position, encode_sorted_token};

/// What a list is ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    /// The attribute.
    pub key: pb::SortKey,
    /// Descending instead of ascending.
    pub descending: bool,
}

impl Sort {
    /// The request's sort, `None` for creation order ascending (the unsorted lists'
    /// order, which their own paths serve).
    pub fn of(sort: Option<&pb::Sort>) -> Option<Sort> {
        let s = sort?;
        let key = pb::SortKey::try_from(s.key).unwrap_or(pb::SortKey::Created);
        (key != pb::SortKey::Created || s.descending).then_some(Sort {
            key,
            descending: s.descending,
        })
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

/// Lists resources of kind `K` in `sort`'s order.
pub(super) fn list<K: ListKind>(
    conn: &mut Conn<'_>,
    req: &ListRequest,
    sort: Sort,
) -> Result<ListPage<K::Item>, IdentityError> {
    if matches!(req.page.position, Position::After(_)) && req.page.sort_pos.is_none() {
        return Err(IdentityError::refused(
            scim_model::ScimType::InvalidCursor,
            "page.page_token was issued for an unsorted list",
        ));
    }
    let count = req.page.count;
    let (page, total, start, index) = match &req.filter {
        None => {
            let total = counts::read(conn, &req.tenant)?.of(K::KIND).live();
            let (page, start) = unfiltered::<K>(conn, req, sort)?;
            (page, total, start, None)
        }
        Some(filter) => match plan::index_key(filter) {
            Some(ix) => {
                let rows = K::lookup(conn, &req.tenant, &ix)?;
                let (page, total, start) = narrowed::<K>(conn, filter, rows, req, sort)?;
                (page, total, start, Some(ix.index_name()))
            }
            None => {
                let (page, total, start) = scan::<K>(conn, filter, req, sort)?;
                (page, total, start, None)
            }
        },
    };
    let mut page = page;
    let next_token = match page.items.last() {
        Some((pos, _)) if page.more && count > 0 => {
            encode_sorted_token(K::NAME, pos, &req.fingerprint)
        }
        _ => String::new(),
    };
    let needs = req
        .filter
        .as_ref()
        .is_some_and(CompiledFilter::needs_related);
    let mut items: Vec<(i64, K::Item)> = page
        .items
        .drain(..)
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
        start_index: start,
        next_token,
        index,
    })
}

/// The page being collected, with each item's place in the order.
struct Sorted<T> {
    items: Vec<(SortPos, T)>,
    more: bool,
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

fn unfiltered<K: ListKind>(
    conn: &mut Conn<'_>,
    req: &ListRequest,
    sort: Sort,
) -> Result<(Sorted<K::Item>, i64), IdentityError> {
    let tenant = req.tenant.as_str();
    let count = req.page.count;
    let (rows, start) = match (&req.page.position, &req.page.sort_pos) {
        (_, _) if count == 0 => (Vec::new(), 0),
        (Position::Index(start), _) => {
            let skip = start - 1;
            let rows = K::sorted(conn, tenant, sort, None, skip + count + 1)
                .ok_or_else(|| unsupported(K::NAME))??;
            (rows.into_iter().skip(skip as usize).collect(), *start)
        }
        (Position::After(_), from) => {
            let rows = K::sorted(conn, tenant, sort, from.as_ref(), count + 1)
                .ok_or_else(|| unsupported(K::NAME))??;
            (rows, 0)
        }
    };
    let more = rows.len() as i64 > count;
    let mut items = positioned::<K>(conn, req, &rows, sort, false)?;
    items.truncate(count as usize);
    Ok((Sorted { items, more }, start))
}

/// Whether `pos` comes after where the page request says the page starts.
fn after_start(req: &ListRequest, sort: Sort, pos: &SortPos) -> bool {
    match &req.page.sort_pos {
        Some(from) => sort.cmp(pos, from) == Ordering::Greater,
        None => true,
    }
}

/// The page of `matched` (in order) the request asks for.
fn window<T>(req: &ListRequest, sort: Sort, matched: Vec<(SortPos, T)>) -> (Sorted<T>, i64, i64) {
    let total = matched.len() as i64;
    let count = req.page.count as usize;
    let (skip, start) = match req.page.position {
        Position::Index(start) => ((start - 1) as usize, start),
        Position::After(_) => (
            matched
                .iter()
                .take_while(|(p, _)| !after_start(req, sort, p))
                .count(),
            0,
        ),
    };
    let mut items: Vec<(SortPos, T)> = matched.into_iter().skip(skip).take(count + 1).collect();
    let more = items.len() > count;
    items.truncate(count);
    (Sorted { items, more }, total, start)
}

fn narrowed<K: ListKind>(
    conn: &mut Conn<'_>,
    filter: &CompiledFilter,
    rows: Vec<K::Row>,
    req: &ListRequest,
    sort: Sort,
) -> Result<(Sorted<K::Item>, i64, i64), IdentityError> {
    let mut matched: Vec<(SortPos, K::Item)> =
        positioned::<K>(conn, req, &rows, sort, filter.needs_related())?
            .into_iter()
            .filter(|(_, item)| filter.matches(item))
            .collect();
    matched.sort_by(|(a, _), (b, _)| sort.cmp(a, b));
    Ok(window(req, sort, matched))
}

fn scan<K: ListKind>(
    conn: &mut Conn<'_>,
    filter: &CompiledFilter,
    req: &ListRequest,
    sort: Sort,
) -> Result<(Sorted<K::Item>, i64, i64), IdentityError> {
    let tenant = req.tenant.as_str();
    let count = req.page.count;
    let related = filter.needs_related();
    let mut page = Sorted {
        items: Vec::new(),
        more: false,
    };
    let mut from: Option<SortPos> = None;
    let mut matches: i64 = 0;
    loop {
        let rows = K::sorted(conn, tenant, sort, from.as_ref(), SCAN_BATCH)
            .ok_or_else(|| unsupported(K::NAME))??;
        let Some(last) = rows.last() else { break };
        from = Some(K::sort_pos(last, sort.key));
        let batch = rows.len() as i64;
        for (pos, item) in positioned::<K>(conn, req, &rows, sort, related)? {
            if !filter.matches(&item) {
                continue;
            }
            matches += 1;
            let wanted = match req.page.position {
                Position::Index(start) => matches >= start,
                Position::After(_) => after_start(req, sort, &pos),
            };
            if !wanted {
                continue;
            }
            if (page.items.len() as i64) < count {
                page.items.push((pos, item));
            } else {
                page.more = true;
            }
        }
        if batch < SCAN_BATCH {
            break;
        }
    }
    let start = match req.page.position {
        Position::Index(start) => start,
        Position::After(_) => 0,
    };
    Ok((page, matches, start))
}
