//! The built `mcp-auth` binary against a local document server.

mod common;
#[path = "../../mcp-auth-cimd/tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};

use common::mcp_auth;
use serde_json::{Value, json};
use support::{DocServer, Reply, TestCa, document, temp_dir};

const PATH: &str = "/oauth/client.json";

fn registry_arg(dir: &Path) -> String {
    dir.join("clients.json").display().to_string()
}

/// A server with a document whose redirect URIs point only at the local machine.
async fn local_client() -> (DocServer, String) {
    let server = DocServer::http().await;
    let id = server.url(PATH);
    server.set(
        PATH,
        Reply::json(&document(&id, "http://127.0.0.1:8976/callback")),
    );
    (server, id)
}

#[tokio::test]
async fn help_teaches_and_usage_errors_exit_2() {
    let dir = temp_dir("cli-help");
    let run = mcp_auth(&["--help"], &dir).await;
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("clients"), "{}", run.stdout);

    let run = mcp_auth(&["clients", "--help"], &dir).await;
    assert_eq!(run.code, 0);
    for needle in [
        "inspect URL",
        "approve URL",
        "list",
        "revoke URL",
        "Exit codes:",
        "registry",
        "5 KiB",
    ] {
        assert!(
            run.stdout.contains(needle),
            "`{needle}` missing from:\n{}",
            run.stdout
        );
    }
    let run = mcp_auth(&["clients", "inspect", "--help"], &dir).await;
    assert_eq!(run.code, 0);
    for needle in [
        "--allow-loopback",
        "--ca-file <PEM>",
        "--registry <PATH|URL>",
        "redis://host:port/db",
        "./mcp-clients.json",
        "--json",
    ] {
        assert!(
            run.stdout.contains(needle),
            "`{needle}` missing from:\n{}",
            run.stdout
        );
    }

    for args in [
        &[][..],
        &["clients"],
        &["clients", "inspect"],
        &["clients", "frobnicate"],
        &["clients", "list", "--bogus"],
    ] {
        let run = mcp_auth(args, &dir).await;
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("Usage:") || run.stdout.contains("Usage:"),
            "{args:?}"
        );
    }
}

#[tokio::test]
async fn inspect_shows_who_the_client_claims_to_be_with_warnings() {
    let server = DocServer::http().await;
    let id = server.url("/oauth/client.json?v=2");
    let mut doc = document(&id, "http://127.0.0.1:8976/callback");
    doc["redirect_uris"] = json!(["http://127.0.0.1:8976/callback", "https://other.example/cb"]);
    server.set("/oauth/client.json?v=2", Reply::json(&doc));
    let dir = temp_dir("cli-inspect");
    let run = mcp_auth(&["clients", "inspect", &id, "--allow-loopback"], &dir).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    for needle in [
        "Test Client",
        "Host         127.0.0.1",
        "Logo         https://client.example/logo.png",
        "Redirects    127.0.0.1, other.example",
        "not approved in ./mcp-clients.json",
        "Warnings:",
        "the client id has a query string",
        "redirect host `other.example` is unlike the client id's host",
    ] {
        assert!(
            run.stdout.contains(needle),
            "`{needle}` missing from:\n{}",
            run.stdout
        );
    }
    assert!(
        !dir.join("mcp-clients.json").exists(),
        "inspect changes nothing"
    );

    // Localhost-only redirects.
    let (_server, id) = local_client().await;
    let run = mcp_auth(
        &["clients", "inspect", &id, "--allow-loopback", "--json"],
        &dir,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["client_name"], "Test Client");
    assert_eq!(report["redirect_hosts"], json!(["127.0.0.1"]));
    assert_eq!(report["warnings"][0]["code"], "loopback_redirects_only");
    assert_eq!(report["registry"], "not_approved");
}

#[tokio::test]
async fn refusals_exit_1_and_outages_exit_3() {
    let dir = temp_dir("cli-refusals");
    let (server, id) = local_client().await;

    // The development switch is needed for a loopback document.
    let run = mcp_auth(&["clients", "inspect", &id], &dir).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("must use the https scheme"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("--allow-loopback"),
        "the hint names the switch: {}",
        run.stderr
    );

    for id in [
        "https://10.0.0.1/client.json",
        "https://169.254.169.254/latest/meta-data",
        "https://2130706433/client.json",
    ] {
        let run = mcp_auth(&["clients", "inspect", id], &dir).await;
        assert_eq!(run.code, 1, "{id}: {}", run.stderr);
        assert!(run.stderr.contains("refused to fetch"), "{}", run.stderr);
    }
    let run = mcp_auth(
        &[
            "clients",
            "inspect",
            "https://app.example.com/",
            "--allow-loopback",
        ],
        &dir,
    )
    .await;
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("the URL has no path"), "{}", run.stderr);

    let mut secret = document(&id, "https://client.example/cb");
    secret["client_secret"] = json!("swordfish-swordfish");
    server.set(PATH, Reply::json(&secret));
    let run = mcp_auth(
        &[
            "clients",
            "approve",
            &id,
            "--allow-loopback",
            "--registry",
            &registry_arg(&dir),
        ],
        &dir,
    )
    .await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("contains `client_secret`"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("swordfish"));
    assert!(!dir.join("clients.json").exists(), "nothing approved");

    server.set(PATH, Reply::raw("text/plain", vec![]).status(503));
    let run = mcp_auth(&["clients", "inspect", &id, "--allow-loopback"], &dir).await;
    assert_eq!(run.code, 3, "{}", run.stderr);

    let run = mcp_auth(
        &[
            "clients",
            "inspect",
            &id,
            "--allow-loopback",
            "--ca-file",
            "/nonexistent.pem",
        ],
        &dir,
    )
    .await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--ca-file"), "{}", run.stderr);
}

#[tokio::test]
async fn approve_list_inspect_revoke() {
    let dir = temp_dir("cli-registry");
    let (server, id) = local_client().await;
    let registry = registry_arg(&dir);
    let fetch = ["--allow-loopback", "--registry", &registry];

    let run = mcp_auth(&[&["clients", "approve", &id][..], &fetch].concat(), &dir).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("approved in"), "{}", run.stdout);
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("clients.json")).unwrap()).unwrap();
    assert_eq!(file["version"], 1);
    assert_eq!(file["clients"][0]["client_id"], id.as_str());
    assert!(
        file["clients"][0]["digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );

    let run = mcp_auth(&["clients", "list", "--registry", &registry], &dir).await;
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.contains(&id) && run.stdout.contains("Test Client"),
        "{}",
        run.stdout
    );
    let run = mcp_auth(
        &["clients", "list", "--registry", &registry, "--json"],
        &dir,
    )
    .await;
    let listed: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(listed[0]["client_id"], id.as_str());
    assert_eq!(listed[0]["redirect_hosts"], json!(["127.0.0.1"]));

    let run = mcp_auth(&[&["clients", "inspect", &id][..], &fetch].concat(), &dir).await;
    assert!(run.stdout.contains("document unchanged"), "{}", run.stdout);

    // The document changes in a way that matters: flagged.
    let mut changed = document(&id, "http://127.0.0.1:8976/callback");
    changed["redirect_uris"] = json!([
        "http://127.0.0.1:8976/callback",
        "https://attacker.example/cb"
    ]);
    server.set(PATH, Reply::json(&changed));
    let run = mcp_auth(&[&["clients", "inspect", &id][..], &fetch].concat(), &dir).await;
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.contains("CHANGED since approved"),
        "{}",
        run.stdout
    );
    let run = mcp_auth(
        &[&["clients", "inspect", &id, "--json"][..], &fetch].concat(),
        &dir,
    )
    .await;
    assert_eq!(
        serde_json::from_str::<Value>(&run.stdout).unwrap()["registry"],
        "changed"
    );
    // A cosmetic change is not.
    let mut renamed = document(&id, "http://127.0.0.1:8976/callback");
    renamed["client_name"] = json!("Renamed Client");
    server.set(PATH, Reply::json(&renamed));
    let run = mcp_auth(&[&["clients", "inspect", &id][..], &fetch].concat(), &dir).await;
    assert!(run.stdout.contains("document unchanged"), "{}", run.stdout);

    let run = mcp_auth(&["clients", "revoke", &id, "--registry", &registry], &dir).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("revoked"));
    let run = mcp_auth(&["clients", "revoke", &id, "--registry", &registry], &dir).await;
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("is not in the registry"),
        "{}",
        run.stderr
    );
    let run = mcp_auth(&["clients", "list", "--registry", &registry], &dir).await;
    assert!(run.stdout.contains("no approved clients"), "{}", run.stdout);
}

#[tokio::test]
async fn the_default_registry_is_in_the_working_directory() {
    let dir = temp_dir("cli-default");
    let (_server, id) = local_client().await;
    let run = mcp_auth(&["clients", "approve", &id, "--allow-loopback"], &dir).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(dir.join("mcp-clients.json").exists());

    std::fs::write(dir.join("mcp-clients.json"), "{ broken").unwrap();
    let run = mcp_auth(&["clients", "list"], &dir).await;
    assert_eq!(run.code, 3, "an unreadable registry: {}", run.stderr);
    assert!(run.stderr.contains("is invalid"), "{}", run.stderr);
}

#[tokio::test]
async fn https_documents_with_a_development_ca() {
    let dir = temp_dir("cli-https");
    let ca = TestCa::new();
    let ca_file: PathBuf = ca.write_ca_file(&dir).unwrap();
    let server = DocServer::https(&ca).await;
    let id = server.url(PATH);
    server.set(
        PATH,
        Reply::json(&document(&id, "https://client.example/cb")),
    );

    let run = mcp_auth(
        &[
            "clients",
            "inspect",
            &id,
            "--allow-loopback",
            "--ca-file",
            ca_file.to_str().unwrap(),
        ],
        &dir,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("Test Client"));

    // Untrusted certificate: the document cannot be fetched.
    let run = mcp_auth(&["clients", "inspect", &id, "--allow-loopback"], &dir).await;
    assert_eq!(run.code, 3, "{}", run.stderr);
}

#[tokio::test]
async fn a_redis_registry_is_shared_and_an_outage_exits_3() {
    let dir = temp_dir("cli-redis");
    let (_server, id) = local_client().await;
    let redis = mcp_auth_testing::RedisServer::start().await;
    let url = redis.url();
    let fetch = ["--allow-loopback", "--registry", &url];

    // A replica following the same Redis sees what the operator does.
    let replica = mcp_auth_redis::RedisRegistry::new(
        mcp_auth_redis::Redis::builder(url.as_str())
            .build()
            .unwrap(),
    )
    .follow();

    let run = mcp_auth(&[&["clients", "approve", &id][..], &fetch].concat(), &dir).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("approved in redis 127.0.0.1:"),
        "{}",
        run.stdout
    );
    assert!(!dir.join("clients.json").exists(), "no file is written");
    let run = mcp_auth(&["clients", "list", "--registry", &url, "--json"], &dir).await;
    let listed: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(listed[0]["client_id"], id.as_str());
    let run = mcp_auth(&[&["clients", "inspect", &id][..], &fetch].concat(), &dir).await;
    assert!(run.stdout.contains("document unchanged"), "{}", run.stdout);
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while !replica.contains(&id) {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the following replica sees the approval");

    let run = mcp_auth(&["clients", "revoke", &id, "--registry", &url], &dir).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = mcp_auth(&["clients", "revoke", &id, "--registry", &url], &dir).await;
    assert_eq!(run.code, 1, "{}", run.stderr);

    // Another scheme is not a file name.
    let run = mcp_auth(
        &["clients", "list", "--registry", "rediss://:pw@cache:6380/"],
        &dir,
    )
    .await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(!run.stderr.contains("pw@"), "{}", run.stderr);

    redis.stop().await;
    let run = mcp_auth(&["clients", "list", "--registry", &url], &dir).await;
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("Redis is unavailable"),
        "{}",
        run.stderr
    );
}
