//! Properties of hierarchies and decisions, over generated policies and grants.

use mcp_auth_core::Scopes;
use proptest::prelude::*;

use crate::{Requirement, ScopeHierarchy, ScopePolicy};

const NAMES: [&str; 8] = ["s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7"];

/// A random acyclic hierarchy: edges only go from a lower to a higher index.
fn hierarchy() -> impl Strategy<Value = Vec<(usize, usize)>> {
    proptest::collection::vec((0usize..7, 1usize..8), 0..12)
        .prop_map(|edges| edges.into_iter().filter(|(a, b)| a < b).collect())
}

fn grant() -> impl Strategy<Value = Scopes> {
    proptest::collection::vec(0usize..8, 0..5)
        .prop_map(|ix| ix.into_iter().map(|i| NAMES[i]).collect())
}

fn build(edges: &[(usize, usize)]) -> ScopeHierarchy {
    ScopeHierarchy::new(edges.iter().map(|(a, b)| (NAMES[*a], [NAMES[*b]]))).unwrap()
}

proptest! {
    #[test]
    fn effective_scopes_contain_the_grant_and_are_closed(edges in hierarchy(), g in grant()) {
        let h = build(&edges);
        let eff = h.effective(&g);
        prop_assert!(eff.is_superset(&g));
        prop_assert_eq!(h.effective(&eff), eff.clone(), "applying the hierarchy twice changes nothing");
        for (a, b) in &edges {
            if eff.contains(NAMES[*a]) {
                prop_assert!(eff.contains(NAMES[*b]), "{} implies {}", NAMES[*a], NAMES[*b]);
            }
        }
    }

    #[test]
    fn more_scopes_never_lose_a_decision(edges in hierarchy(), g in grant(), extra in grant(), need in 0usize..8, alt in 0usize..8) {
        let policy = ScopePolicy::builder()
            .tool("t", Requirement::any_of(&[NAMES[need], NAMES[alt]]))
            .hierarchy(build(&edges))
            .build()
            .unwrap();
        let body = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t"}}"#;
        let mcp = mcp_auth_core::mcp::McpRequest::parse(body, &Default::default()).unwrap();
        let small = policy.decide(&g, Some(&mcp));
        let large = policy.decide(&g.union(&extra), Some(&mcp));
        if small.is_allowed() {
            prop_assert!(large.is_allowed());
        }
        // A denial's challenge always includes what was missing.
        if let Some(denial) = small.denial() {
            let challenged = denial.scope().cloned().unwrap_or_default();
            prop_assert!(challenged.is_superset(&small.check().missing));
        }
    }
}

#[test]
fn cycles_of_any_length_are_refused() {
    for n in 1..8 {
        let edges: Vec<_> = (0..n).map(|i| (NAMES[i], [NAMES[(i + 1) % n]])).collect();
        assert!(ScopeHierarchy::new(edges).is_err(), "cycle of {n}");
    }
}
