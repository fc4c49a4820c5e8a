//! What Redis trouble looks like in the metrics: a real redis-server stopped and started again
//! while client approvals follow it. While it is away, calls fail and are counted
//! (`mcp_auth.redis.errors`) and `mcp_auth.redis.approvals.following` reads 0 (the last known
//! approvals serve); when it is back, 1 again.
//!
//! One test in this binary: the OpenTelemetry providers are global to the process.

use std::time::{Duration, Instant};

use mcp_auth::redis::{Redis, RedisRegistry};
use mcp_auth::telemetry::OtlpTelemetry;
use mcp_auth_testing::{OtlpReceiver, RedisServer};

/// Flushes until `gauge` reads `value`, for at most five seconds.
async fn until_gauge(telemetry: &OtlpTelemetry, receiver: &OtlpReceiver, gauge: &str, value: i64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        telemetry.flush().unwrap();
        let now = receiver.received().total(gauge, &[]);
        if now == value && receiver.received().latest_metric(gauge).is_some() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{gauge} stayed {now}, not {value}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outages_are_counted_and_the_followers_state_reported() {
    let receiver = OtlpReceiver::start().await;
    let telemetry = OtlpTelemetry::builder(receiver.endpoint())
        .install()
        .unwrap();
    let server = RedisServer::start().await;
    let redis = Redis::builder(server.url()).build().unwrap();
    let registry = RedisRegistry::new(redis);
    let _followed = registry.follow();
    let following = "mcp_auth.redis.approvals.following";
    until_gauge(&telemetry, &receiver, following, 1).await;
    telemetry.flush().unwrap();
    assert_eq!(receiver.received().total("mcp_auth.redis.errors", &[]), 0);

    server.stop().await;
    assert!(registry.clients().await.is_err(), "Redis is away");
    until_gauge(&telemetry, &receiver, following, 0).await;
    let errors = receiver.received().total("mcp_auth.redis.errors", &[]);
    assert!(errors >= 1, "the failed calls were counted: {errors}");

    server.restart().await;
    until_gauge(&telemetry, &receiver, following, 1).await;
    assert!(registry.clients().await.is_ok(), "Redis is back");
}
