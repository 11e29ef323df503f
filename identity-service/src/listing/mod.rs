//! Listing users and groups: one procedure for both kinds.
//!
//! Index pages in creation order (what Okta and Entra ask for) are served here; pages
//! asked for by token, and every page of a sorted list, are keyset walks ([`sorted`]).
//!
//! * Unfiltered: the page is `seq > cursor LIMIT count` when the [`CursorCache`] knows
//!   the position; otherwise a seek through the cache's order index (built
//!   by one walk of the `(tenant, seq)` index when missing or outdated). The total is
//!   the tenant's live count from [`crate::db::counts`], read in the same snapshot.
//! * Filtered with an index key (see [`crate::filter::plan`]): the candidates are loaded,
//!   evaluated and paged in memory.
//! * Filtered otherwise: the tenant's rows are scanned in `seq` order in batches of
//!   [`SCAN_BATCH`]; every match is counted for the total, and only the page is kept.
//!   Sequential index paging reuses the cached total and resumes at the cached cursor.
//!
//! Everything runs inside one read transaction, so a page, its total and the
//! generations that validate cached positions agree.

mod kinds;
pub mod sorted;

use scim_storage::Conn;

pub use kinds::{Groups, ListKind, Users};

use crate::db::counts;
use crate::error::IdentityError;
use crate::filter::CompiledFilter;
use crate::filter::plan;
use crate::paging::{
    CursorCache, Generations, ListKey, ORDER_SAMPLE, PageSpec, Position, Toward, encode_token,
};

/// Rows read per statement while scanning.
pub const SCAN_BATCH: i64 = 500;

/// A list request, checked.
#[derive(Debug)]
pub struct ListRequest {
    /// The caller's tenant.
    pub tenant: String,
    /// The filter, if any.
    pub filter: Option<CompiledFilter>,
    /// The filter's fingerprint (empty without a filter).
    pub fingerprint: String,
    /// Which page.
    pub page: PageSpec,
    /// Whether items carry `groups` / `members`.
    pub include_related: bool,
    /// The order, when not creation order ([`sorted`]).
    pub sort: Option<sorted::Sort>,
}

/// What a list reads about its tenant before its rows.
struct Snapshot {
    generations: Generations,
    /// Rows of the listed kind.
    live: i64,
}

/// One page of a list.
#[derive(Debug)]
pub struct ListPage<T> {
    /// The items.
    pub items: Vec<T>,
    /// Number of matches.
    pub total: i64,
    /// The 1-based index of the first item.
    pub start_index: i64,
    /// The token for the next page, empty at the end.
    pub next_token: String,
    /// The token for the page before this one, empty on the first page.
    pub previous_token: String,
    /// Which index narrowed the filter, for spans.
    pub index: Option<&'static str>,
}

/// The page being collected.
struct Collect<T> {
    items: Vec<(i64, T)>,
    more: bool,
}

/// Lists resources of kind `K`.
pub fn list<K: ListKind>(
    conn: &mut Conn<'_>,
    cache: &CursorCache,
    req: &ListRequest,
) -> Result<ListPage<K::Item>, IdentityError> {
    // Token pages, and every page of a sorted list, are keyset walks ([`sorted`]); this
    // path serves index pages in creation order, through the cursor cache.
    let start = match (req.sort, req.page.position) {
        (None, Position::Index(start)) => start,
        (sort, _) => return sorted::list::<K>(conn, req, sort.unwrap_or(sorted::Sort::CREATION)),
    };
    let key = ListKey {
        tenant: req.tenant.clone(),
        kind: K::NAME,
        fingerprint: req.fingerprint.clone(),
    };
    let count = req.page.count;
    // The counters are for the lists that page through the cache; an index lookup
    // (the IdPs' hot path) needs neither a total nor a generation.
    let snapshot = |conn: &mut Conn<'_>| -> Result<Snapshot, IdentityError> {
        let tenant_counts = counts::read(conn, &req.tenant)?;
        Ok(Snapshot {
            generations: Generations::of(&tenant_counts, K::KIND),
            live: tenant_counts.of(K::KIND).live(),
        })
    };
    let mut generations = None;
    let (mut page, total, index) = match &req.filter {
        None => {
            let snapshot = snapshot(conn)?;
            generations = Some(snapshot.generations);
            let page = unfiltered::<K>(conn, cache, &key, req, start, &snapshot)?;
            (page, snapshot.live, None)
        }
        Some(filter) => match plan::index_key(filter) {
            Some(ix) => {
                let rows = K::lookup(conn, &req.tenant, &ix)?;
                let (page, total) = narrowed::<K>(conn, filter, rows, req, start)?;
                (page, total, Some(ix.index_name()))
            }
            None => {
                let g = snapshot(conn)?.generations;
                generations = Some(g);
                let (page, total) = scan::<K>(conn, cache, &key, filter, req, start, g)?;
                (page, total, None)
            }
        },
    };
    // Index-narrowed lists are small and never consult the cache.
    if let (Some((last, _)), Some(g)) = (page.items.last(), generations) {
        let cached_total = req.filter.is_some().then_some(total);
        let next = start.saturating_add(page.items.len() as i64);
        cache.store(&key, next, g, *last, cached_total);
    }
    let next_token = match page.items.last() {
        Some((last, _)) if page.more && count > 0 => {
            encode_token(K::NAME, *last, &req.fingerprint, Toward::Next)
        }
        _ => String::new(),
    };
    let previous_token = match page.items.first() {
        Some((first, _)) if start > 1 => {
            encode_token(K::NAME, *first, &req.fingerprint, Toward::Previous)
        }
        _ => String::new(),
    };
    let needs = req
        .filter
        .as_ref()
        .is_some_and(CompiledFilter::needs_related);
    if req.include_related && !needs {
        K::attach_related(conn, &req.tenant, &mut page.items)?;
    } else if !req.include_related && needs {
        page.items
            .iter_mut()
            .for_each(|(_, item)| K::strip_related(item));
    }
    Ok(ListPage {
        items: page.items.into_iter().map(|(_, item)| item).collect(),
        total,
        start_index: start,
        next_token,
        previous_token,
        index,
    })
}

fn decode_all<K: ListKind>(
    conn: &mut Conn<'_>,
    tenant: &str,
    rows: &[K::Row],
    related: bool,
) -> Result<Vec<(i64, K::Item)>, IdentityError> {
    let mut items = rows
        .iter()
        .map(|r| Ok((K::seq(r), K::decode(r)?)))
        .collect::<Result<Vec<_>, IdentityError>>()?;
    if related {
        K::attach_related(conn, tenant, &mut items)?;
    }
    Ok(items)
}

/// Index page `start` of the unfiltered list.
fn unfiltered<K: ListKind>(
    conn: &mut Conn<'_>,
    cache: &CursorCache,
    key: &ListKey,
    req: &ListRequest,
    start: i64,
    snapshot: &Snapshot,
) -> Result<Collect<K::Item>, IdentityError> {
    let tenant = req.tenant.as_str();
    let count = req.page.count;
    let generations = snapshot.generations;
    let mut order = cache.order_index(tenant, K::NAME, generations);
    let rows = if count == 0 {
        Vec::new()
    } else {
        match cache.lookup(key, start, generations) {
            Some(cursor) => K::after(conn, tenant, cursor.last_seq, count + 1)?,
            None if start == 1 => K::skip_from(conn, tenant, 0, 0, count + 1)?,
            None => {
                // A position nothing remembers: seek through the order index (built
                // now if needed) instead of an OFFSET over every row before it.
                if order.is_none() {
                    let (total, samples) = K::sample_seqs(conn, tenant, ORDER_SAMPLE)?;
                    order =
                        Some(cache.store_order_index(tenant, K::NAME, generations, total, samples));
                }
                match order.as_ref().and_then(|index| index.locate(start - 1)) {
                    Some((from, skip)) => K::skip_from(conn, tenant, from, skip, count + 1)?,
                    None => Vec::new(),
                }
            }
        }
    };
    let more = rows.len() as i64 > count;
    let mut items = decode_all::<K>(conn, tenant, &rows, false)?;
    items.truncate(count as usize);
    Ok(Collect { items, more })
}

/// Index page `start` of the candidates an index lookup gave, and the total.
fn narrowed<K: ListKind>(
    conn: &mut Conn<'_>,
    filter: &CompiledFilter,
    rows: Vec<K::Row>,
    req: &ListRequest,
    start: i64,
) -> Result<(Collect<K::Item>, i64), IdentityError> {
    let items = decode_all::<K>(conn, &req.tenant, &rows, filter.needs_related())?;
    let matched: Vec<(i64, K::Item)> = items
        .into_iter()
        .filter(|(_, item)| filter.matches(item))
        .collect();
    let total = matched.len() as i64;
    let count = req.page.count as usize;
    let skip = (start - 1) as usize;
    let mut items: Vec<(i64, K::Item)> = matched.into_iter().skip(skip).take(count + 1).collect();
    let more = items.len() > count;
    items.truncate(count);
    Ok((Collect { items, more }, total))
}

/// Index page `start` of a filter evaluated over the whole tenant, and the total.
fn scan<K: ListKind>(
    conn: &mut Conn<'_>,
    cache: &CursorCache,
    key: &ListKey,
    filter: &CompiledFilter,
    req: &ListRequest,
    start: i64,
    generations: Generations,
) -> Result<(Collect<K::Item>, i64), IdentityError> {
    let tenant = req.tenant.as_str();
    let count = req.page.count;
    let related = filter.needs_related();
    // A cached position with a cached total lets sequential pages stop early.
    let resume = cache
        .lookup(key, start, generations)
        .and_then(|c| c.total.map(|t| (c.last_seq, t)));
    let mut page = Collect {
        items: Vec::new(),
        more: false,
    };
    let mut after = resume.map_or(0, |(seq, _)| seq);
    let mut matches: i64 = 0;
    loop {
        let rows = K::after(conn, tenant, after, SCAN_BATCH)?;
        let Some(last) = rows.last() else { break };
        after = K::seq(last);
        for (seq, item) in decode_all::<K>(conn, tenant, &rows, related)? {
            if !filter.matches(&item) {
                continue;
            }
            matches += 1;
            if resume.is_none() && matches < start {
                continue;
            }
            if (page.items.len() as i64) < count {
                page.items.push((seq, item));
            } else {
                page.more = true;
                if resume.is_some() {
                    break;
                }
            }
        }
        if resume.is_some() && page.more {
            break;
        }
    }
    Ok(match resume {
        Some((_, total)) => (page, total),
        None => (page, matches),
    })
}
