//! `AuditLayer` overhead per request with the JSON Lines file sink, beside the bare service in the
//! same run.
//!
//! Run: `cargo bench -p mcp-auth-audit --bench audit`

use std::convert::Infallible;
use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use mcp_auth_audit::{Auditor, JsonLinesFile};
use tower::{Service, ServiceBuilder};

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("mcp-auth-audit-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let auditor = Auditor::builder()
        .sink(
            JsonLinesFile::open(dir.join("audit.jsonl"))
                .unwrap()
                .rotate(64 * 1024 * 1024, 1),
        )
        .start();
    let handler = |_req: Request<Full<Bytes>>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
            br#"{"jsonrpc":"2.0","id":1,"result":{}}"#,
        ))))
    };
    let mut bare = ServiceBuilder::new().service_fn(handler);
    let mut audited = ServiceBuilder::new()
        .layer(auditor.layer())
        .service_fn(handler);
    let body = Bytes::from_static(
        br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami"}}"#,
    );

    let mut group = c.benchmark_group("audit");
    group.bench_function("bare_service", |b| {
        b.to_async(&rt).iter(|| {
            let future = bare.call(Request::post("/mcp").body(Full::new(body.clone())).unwrap());
            async move { black_box(future.await.unwrap().into_body().collect().await.unwrap()) }
        })
    });
    group.bench_function("audit_layer_file_sink", |b| {
        b.to_async(&rt).iter(|| {
            let future = audited.call(Request::post("/mcp").body(Full::new(body.clone())).unwrap());
            async move { black_box(future.await.unwrap().into_body().collect().await.unwrap()) }
        })
    });
    group.finish();
    auditor.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group! {
    name = audit;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1)).sample_size(50);
    targets = benches
}
criterion_main!(audit);
