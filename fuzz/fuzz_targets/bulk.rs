//! A `/Bulk` body: the BulkRequest read, its `bulkId` references planned, and each
//! operation's data resolved. The plan must place every operation exactly once (in a
//! batch or refused), and never before an operation whose `bulkId` it references.

#![no_main]

use std::collections::{HashMap, HashSet};

use libfuzzer_sys::fuzz_target;
use scim_gateway::scim::bulk;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Ok(request) = bulk::parse(&body) else {
        return;
    };
    let ops = &request.operations;
    let plan = bulk::plan(ops);
    let mut placed = HashSet::new();
    for i in plan.batches.iter().flatten().chain(plan.refused.iter().map(|(i, _)| i)) {
        assert!(placed.insert(*i), "operation {i} placed twice");
    }
    assert_eq!(placed.len(), ops.len(), "every operation is placed");
    let creator: HashMap<&str, usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, o)| o.checked.as_ref().is_ok_and(|c| c.method == bulk::Method::Post))
        .filter_map(|(i, o)| o.bulk_id.as_deref().map(|b| (b, i)))
        .collect();
    let mut batch_of = HashMap::new();
    for (n, batch) in plan.batches.iter().enumerate() {
        for &i in batch {
            batch_of.insert(i, n);
        }
    }
    let mut created = HashMap::new();
    for (n, batch) in plan.batches.iter().enumerate() {
        for &i in batch {
            let Ok(c) = &ops[i].checked else { continue };
            for r in &c.refs {
                if let Some(&j) = creator.get(r.as_str())
                    && let Some(&m) = batch_of.get(&j)
                {
                    assert!(m < n, "operation {i} runs before or beside {j}, which it references");
                }
            }
            if let Some(mut d) = c.data.clone() {
                bulk::resolve(&mut d, &created);
            }
        }
        for &i in batch {
            if let Some(b) = &ops[i].bulk_id {
                created.insert(b.clone(), format!("id-{i}"));
            }
        }
    }
});
