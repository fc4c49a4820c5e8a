//! `mcp-auth doctor`: why a token is refused, and whether clients can find their way.
//!
//! It fetches discovery and the JWKS with the server's fetch rules, shows the token's header
//! and claims (never the token, never its signature), runs the server's own verification and
//! names the failing step with the fix in the vendor's terms; with `--server` it probes a
//! running server as a client would.

mod hints;
mod report;
mod server;
mod token;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::ArgMatches;
use mcp_auth_core::ResourceId;
use mcp_auth_fetch::{FetchConfig, FetchPolicy, Fetcher};
use mcp_auth_jwt::{IssuerConfig, IssuerEntry, KeySource, Profile, TenantsEntry, Verifier};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::commands::{Failure, REFUSED, UNAVAILABLE, USAGE};
use report::{Report, Status};

/// The parts of a server's TOML configuration the doctor reads; the rest is ignored.
#[derive(Deserialize)]
struct ServerFile {
    resource: String,
    #[serde(default)]
    issuers: Vec<IssuerEntry>,
    #[serde(default)]
    fetch: Option<FetchConfig>,
}

/// What the flags or the file say to check.
struct Setup {
    resource: ResourceId,
    issuers: Vec<IssuerConfig>,
    policy: FetchPolicy,
}

pub(crate) fn run(m: &ArgMatches) -> Result<(), Failure> {
    let setup = setup(m)?;
    let token = token(m)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(UNAVAILABLE, format!("cannot start the async runtime: {e}")))?;
    let mut report = Report::new(m.get_flag("json"));
    runtime.block_on(diagnose(
        &mut report,
        &setup,
        token.as_deref(),
        m.get_one::<String>("server"),
    ));
    let result = report.result();
    let failed = report.count(Status::Fail);
    let json = m.get_flag("json");
    report.finish();
    match result {
        "ok" => Ok(()),
        "failed" => Err(Failure::new(REFUSED, format!("{failed} check(s) failed")).quiet(json)),
        _ => Err(Failure::new(
            UNAVAILABLE,
            "some checks could not be made now (unreachable)",
        )
        .quiet(json)),
    }
}

fn setup(m: &ArgMatches) -> Result<Setup, Failure> {
    let usage = |message: String| Failure::new(USAGE, message);
    let (resource, entries, fetch) = match m.get_one::<String>("config") {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| usage(format!("--config `{path}`: {e}")))?;
            let file: ServerFile =
                toml::from_str(&text).map_err(|e| usage(format!("--config `{path}`: {e}")))?;
            let resource = m
                .get_one::<String>("resource")
                .cloned()
                .unwrap_or(file.resource);
            (resource, file.issuers, file.fetch)
        }
        None => {
            let issuer = m
                .get_one::<String>("issuer")
                .ok_or_else(|| usage("--issuer URL is required (or --config FILE)".into()))?;
            let resource = m
                .get_one::<String>("resource")
                .ok_or_else(|| usage("--resource URL is required (or --config FILE)".into()))?;
            (resource.clone(), vec![flags_entry(m, issuer)], None)
        }
    };
    let resource =
        ResourceId::parse(&resource).map_err(|e| usage(format!("--resource `{resource}`: {e}")))?;
    let mut policy = match fetch {
        Some(fetch) => fetch.into_policy().map_err(|e| usage(e.to_string()))?,
        None => FetchPolicy::default(),
    };
    policy = policy.timeout(Duration::from_secs(5));
    if m.get_flag("allow-loopback") {
        policy = policy.allow_loopback(true);
    }
    if let Some(path) = m.get_one::<String>("ca-file") {
        let pem = std::fs::read(path).map_err(|e| usage(format!("--ca-file `{path}`: {e}")))?;
        policy = policy.root_certificate_pem(pem);
    }
    let issuers = entries
        .into_iter()
        .map(IssuerEntry::into_config)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| usage(e.to_string()))?;
    Ok(Setup {
        resource,
        issuers,
        policy,
    })
}

/// The issuer the flags describe: the same conversion as an `[[issuers]]` entry.
fn flags_entry(m: &ArgMatches, issuer: &str) -> IssuerEntry {
    let many = |id: &str| -> Vec<String> {
        m.get_many::<String>(id)
            .map(|v| v.cloned().collect())
            .unwrap_or_default()
    };
    IssuerEntry {
        profile: m.get_one::<Profile>("idp").copied().unwrap_or_default(),
        audiences: many("audience"),
        tenants: TenantsEntry::from_words(&many("tenant")),
        client_ids: many("client-id"),
        scope_prefix: m.get_one::<String>("scope-prefix").cloned(),
        ..IssuerEntry::for_issuer(issuer)
    }
}

fn token(m: &ArgMatches) -> Result<Option<String>, Failure> {
    if let Some(token) = m.get_one::<String>("token") {
        return Ok(Some(token.trim().to_owned()));
    }
    let Some(path) = m.get_one::<String>("token-file") else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::new(USAGE, format!("--token-file `{path}`: {e}")))?;
    let text = text.trim();
    // Accept a bare token or an `Authorization` header value copied whole.
    let token = text
        .strip_prefix("Bearer ")
        .or_else(|| text.strip_prefix("bearer "))
        .unwrap_or(text);
    Ok(Some(token.to_owned()))
}

async fn diagnose(
    report: &mut Report,
    setup: &Setup,
    token: Option<&str>,
    server: Option<&String>,
) {
    let fetcher = match Fetcher::new(setup.policy.clone()) {
        Ok(f) => f,
        Err(e) => {
            report.section("Configuration");
            report.check("fetch", Status::Fail, e.to_string(), None);
            return;
        }
    };
    for config in &setup.issuers {
        check_issuer(report, setup, &fetcher, config).await;
    }
    if let Some(token) = token {
        check_token(report, setup, token).await;
    }
    if let Some(url) = server {
        server::probe(report, &fetcher, url).await;
    }
}

async fn check_issuer(
    report: &mut Report,
    setup: &Setup,
    fetcher: &Fetcher,
    config: &IssuerConfig,
) {
    report.section(format!("Issuer {}", config.issuer()));
    report.info("profile", config.profile_name().name());
    if let Err(e) = verifier(setup, std::slice::from_ref(config)) {
        report.check("configuration", Status::Fail, e.clone(), None);
        return;
    }
    report.check("configuration", Status::Pass, "valid", None);
    let jwks_uri = match config.key_source() {
        KeySource::JwksUri(uri) => uri.clone(),
        KeySource::Discovery => {
            let base = config.metadata_location();
            match mcp_auth_fetch::discovery::discover_from(fetcher, base, config.issuer()).await {
                Ok(found) => {
                    report.check(
                        "discovery",
                        Status::Pass,
                        format!("found at {}", found.url),
                        None,
                    );
                    match found.text("jwks_uri") {
                        Some(uri) => uri.to_owned(),
                        None => {
                            report.check(
                                "keys",
                                Status::Fail,
                                "the metadata has no jwks_uri",
                                None,
                            );
                            return;
                        }
                    }
                }
                Err(e) => {
                    let mismatch = e.problems.iter().find(|p| p.contains("names issuer"));
                    let (status, fix) = match mismatch {
                        Some(_) => (
                            Status::Fail,
                            Some("the issuer must be configured exactly as the metadata's `issuer` (scheme, host, path, trailing slash)".to_owned()),
                        ),
                        None if e.transient => (Status::Unreachable, None),
                        None => (
                            Status::Fail,
                            Some("check the issuer URL: its metadata is published at /.well-known/openid-configuration or oauth-authorization-server".to_owned()),
                        ),
                    };
                    let fix = fix.or_else(|| fetch_fix(&e.problems.join("; ")));
                    report.check("discovery", status, e.to_string(), fix);
                    return;
                }
            }
        }
        _ => {
            report.check("keys", Status::Pass, "configured statically", None);
            return;
        }
    };
    match fetcher.get_json::<Value>(&jwks_uri).await {
        Ok((jwks, _)) => {
            let keys = jwks
                .get("keys")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let signing: Vec<String> = keys
                .iter()
                .filter(|k| {
                    k.get("use")
                        .and_then(Value::as_str)
                        .is_none_or(|u| u == "sig")
                })
                .map(|k| {
                    format!(
                        "{} ({})",
                        clean(k.get("kid").and_then(Value::as_str).unwrap_or("no kid")),
                        clean(k.get("kty").and_then(Value::as_str).unwrap_or("?"))
                    )
                })
                .collect();
            let status = if signing.is_empty() {
                Status::Fail
            } else {
                Status::Pass
            };
            report.check(
                "keys",
                status,
                format!(
                    "{} signing key(s) at {jwks_uri}: {}",
                    signing.len(),
                    signing.join(", ")
                ),
                None,
            );
        }
        Err(e) => {
            let status = if e.is_transient() {
                Status::Unreachable
            } else {
                Status::Fail
            };
            report.check("keys", status, e.to_string(), fetch_fix(&e.to_string()));
        }
    }
}

async fn check_token(report: &mut Report, setup: &Setup, token: &str) {
    report.section("Token");
    let shown = match token::decode(token) {
        Ok(shown) => shown,
        Err(why) => {
            // An opaque token may still be introspected by an issuer configured for it.
            let verdict = match verifier(setup, &setup.issuers) {
                Ok(v) if !token.contains('.') => Some(v.verify(token).await),
                _ => None,
            };
            match verdict {
                Some(Ok(principal)) => {
                    report.check(
                        "introspection",
                        Status::Pass,
                        "the issuer says the opaque token is active",
                        None,
                    );
                    report.info("subject", &clean(principal.subject()));
                    report.info("client", &clean(principal.client_id().unwrap_or("-")));
                    report.info("scopes", &clean(&principal.scopes().to_string()));
                }
                Some(Err(error)) if error.reason() != "malformed" => {
                    let status = if error.status() == 503 {
                        Status::Unreachable
                    } else {
                        Status::Fail
                    };
                    report.check(
                        "introspection",
                        status,
                        format!("{} ({})", error.description(), error.reason()),
                        None,
                    );
                }
                _ => report.check("format", Status::Fail, why, None),
            }
            return;
        }
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    for name in ["alg", "typ", "kid"] {
        let value = shown
            .header
            .get(name)
            .map_or_else(|| "(none)".to_owned(), |v| token::display(name, v, now));
        report.info(&format!("header {name}"), &value);
    }
    let mut names: Vec<&String> = shown.claims.keys().collect();
    names.sort();
    for name in &names {
        report.info(
            &clean(name),
            &token::display(name, &shown.claims[*name], now),
        );
    }
    report.attach("token", sanitized(&shown.header, &shown.claims, now));
    if let Some(vendor) = hints::guess_vendor(&shown.header, &shown.claims) {
        report.info("looks like", vendor.name());
    }
    let verifier = match verifier(setup, &setup.issuers) {
        Ok(v) => v,
        Err(e) => {
            report.check("verification", Status::Fail, e, None);
            return;
        }
    };
    match verifier.verify(token).await {
        Ok(principal) => {
            for step in hints::STEPS {
                report.check(step, Status::Pass, "", None);
            }
            report.info("subject", &clean(principal.subject()));
            report.info("client", &clean(principal.client_id().unwrap_or("-")));
            report.info("scopes", &clean(&principal.scopes().to_string()));
            report.info(
                "audience",
                &clean(principal.audience().unwrap_or("(none: client-bound)")),
            );
            if !principal.roles().is_empty() {
                report.info("roles", &clean(&principal.roles().join(" ")));
            }
        }
        Err(error) => {
            let failed = hints::step_of(error.reason(), error.description());
            let iss = shown
                .claims
                .get("iss")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let configured = setup
                .issuers
                .iter()
                .find(|c| c.issuer() == iss)
                .map(IssuerConfig::profile_name);
            let configured_issuers: Vec<String> = setup
                .issuers
                .iter()
                .map(|c| c.issuer().to_owned())
                .collect();
            let resource = setup.resource.to_string();
            let fix = hints::fix(&hints::Context {
                reason: error.reason(),
                description: error.description(),
                header: &shown.header,
                claims: &shown.claims,
                configured,
                configured_issuers: &configured_issuers,
                resource: &resource,
            });
            let mut reached = true;
            for step in hints::STEPS {
                if step == failed {
                    let status = if error.reason() == "keys_unavailable" {
                        Status::Unreachable
                    } else {
                        Status::Fail
                    };
                    report.check(
                        step,
                        status,
                        format!("{} ({})", error.description(), error.reason()),
                        fix.clone(),
                    );
                    reached = false;
                } else if reached {
                    report.check(step, Status::Pass, "", None);
                } else {
                    report.check(step, Status::Skipped, "not checked", None);
                }
            }
        }
    }
}

fn verifier(setup: &Setup, issuers: &[IssuerConfig]) -> Result<Verifier, String> {
    let mut builder = Verifier::builder(setup.resource.clone()).fetch_policy(setup.policy.clone());
    for issuer in issuers {
        builder = builder.issuer(issuer.clone());
    }
    builder.build().map_err(|e| e.to_string())
}

/// The header and claims for the JSON report, sanitised like the text.
fn sanitized(header: &Map<String, Value>, claims: &Map<String, Value>, now: u64) -> Value {
    let clean_map = |m: &Map<String, Value>| -> Map<String, Value> {
        m.iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(_) => Value::String(token::display(k, v, now)),
                    other => other.clone(),
                };
                (clean(k), v)
            })
            .collect()
    };
    serde_json::json!({ "header": clean_map(header), "claims": clean_map(claims) })
}

fn fetch_fix(error: &str) -> Option<String> {
    if error.contains("loopback") {
        Some("for an issuer on this machine during development add --allow-loopback".into())
    } else if error.contains("private") {
        Some(
            "for an internal issuer set `allow_private_networks = true` under [fetch] in --config"
                .into(),
        )
    } else {
        None
    }
}

/// Text from the token, the issuer or the server, made safe for a terminal (the one sanitiser,
/// clipped to what a line of the report can show).
pub(super) fn clean(text: &str) -> String {
    mcp_auth_core::untrusted_text(text, 200)
}
