//! Cost of a policy decision over 50 Cedar policies with arguments, beside today's scope
//! decision and a serde_json parse of the same body, in the same run.
//!
//! Run: `cargo bench -p mcp-auth-policy --bench decide`

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use mcp_auth_core::mcp::{InspectLimits, McpRequest};
use mcp_auth_core::{BearerToken, Principal, Scopes};
use mcp_auth_policy::{Authorize, Call, CedarAuthorizer, CedarPolicies, Decision};
use mcp_auth_scope::{Requirement, ScopePolicy};
use serde_json::json;

/// 50 policies: per-tool role grants, argument limits, client and service forbids.
fn policies() -> CedarPolicies {
    let mut text = String::new();
    for i in 0..40 {
        text.push_str(&format!(
            "permit(principal in Mcp::Role::\"team_{}\", action == Mcp::Action::\"tools/call\", resource == Mcp::Tool::\"tool_{i}\");\n",
            i % 7
        ));
    }
    for i in 0..6 {
        text.push_str(&format!(
            "permit(principal in Mcp::Role::\"manager\", action == Mcp::Action::\"tools/call\", resource == Mcp::Tool::\"approve_{i}\") when {{ context.arguments has amount && context.arguments.amount <= {} }};\n",
            1000 * (i + 1)
        ));
    }
    text.push_str("forbid(principal is Mcp::Service, action, resource);\n");
    text.push_str("forbid(principal, action, resource) when { context has client && context.client has host && context.client.host == \"evil.example\" };\n");
    text.push_str("forbid(principal, action == Mcp::Action::\"tools/call\", resource == Mcp::Tool::\"approve_3\") when { context.arguments has project && context.arguments.project == \"frozen\" };\n");
    text.push_str(
        "permit(principal in Mcp::Role::\"cfo\", action in Mcp::Action::\"use\", resource);\n",
    );
    CedarPolicies::builder()
        .schema_source(
            "bench.cedarschema",
            "namespace Mcp { type Arguments = { amount?: Long, project?: String }; }",
        )
        .source("bench.cedar", text)
        .build()
        .unwrap()
}

fn benches(c: &mut Criterion) {
    let authorizer = CedarAuthorizer::new(policies());
    assert_eq!(authorizer.policies().len(), 50);
    let body = Bytes::from(
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
               "params": {"name": "approve_2", "arguments": {"amount": 2500, "project": "apollo", "note": "team dinner"}}})
        .to_string(),
    );
    let limits = InspectLimits::default();
    let principal = Principal::builder(
        "https://issuer.example",
        "max",
        BearerToken::new("bench-token"),
    )
    .scopes(Scopes::parse("mcp:read"))
    .roles(vec!["manager".into(), "team_3".into()])
    .build();
    let scope_policy = ScopePolicy::builder()
        .required(Requirement::all("mcp:read"))
        .tool("approve_*", Requirement::all("mcp:read"))
        .build()
        .unwrap();
    let mcp = McpRequest::parse(&body, &limits).unwrap();
    let calls = Call::all_in(&mcp, &principal, None, 64 * 1024).unwrap();
    let decide = |call: &Call| match authorizer.authorize(call) {
        Decision::Ready(verdict) => verdict.is_allowed(),
        Decision::Pending(_) => unreachable!("Cedar decides at once"),
    };
    assert!(
        decide(&calls[0]),
        "the manager may approve 2500 of approve_2"
    );

    let mut group = c.benchmark_group("policy");
    group.bench_function("serde_json_parse", |b| {
        b.iter(|| black_box(serde_json::from_slice::<serde_json::Value>(&body).unwrap()))
    });
    group.bench_function("scope_decision", |b| {
        b.iter(|| {
            black_box(
                scope_policy
                    .decide(principal.scopes(), Some(&mcp))
                    .is_allowed(),
            )
        })
    });
    group.bench_function("cedar_decision_50_policies", |b| {
        b.iter(|| black_box(decide(&calls[0])))
    });
    group.bench_function("arguments_and_cedar_decision", |b| {
        b.iter(|| {
            let calls = Call::all_in(&mcp, &principal, None, 64 * 1024).unwrap();
            black_box(decide(&calls[0]))
        })
    });
    group.finish();
}

criterion_group!(policy, benches);
criterion_main!(policy);
