//! What each subcommand does.

use std::path::Path;
use std::time::Duration;

use clap::ArgMatches;
use mcp_auth_cimd::{
    Approval, ApprovedClient, CimdUrl, ClientInfo, ClientResolver, Registry, RegistryError,
    ResolveError,
};
use mcp_auth_fetch::{FetchError, FetchPolicy};
use mcp_auth_redis::{Redis, RedisRegistry};

use crate::output;

pub(crate) const REFUSED: u8 = 1;
pub(crate) const USAGE: u8 = 2;
pub(crate) const UNAVAILABLE: u8 = 3;

/// A failed command: its exit code and what to tell the operator.
pub(crate) struct Failure {
    pub(crate) code: u8,
    pub(crate) message: String,
    pub(crate) hint: Option<String>,
    /// Already reported on standard output (JSON mode): print nothing more.
    pub(crate) quiet: bool,
}

impl Failure {
    pub(crate) fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            hint: None,
            quiet: false,
        }
    }

    pub(crate) fn quiet(mut self, quiet: bool) -> Self {
        self.quiet = quiet;
        self
    }

    fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl From<RegistryError> for Failure {
    fn from(error: RegistryError) -> Self {
        Failure::new(UNAVAILABLE, error.to_string())
    }
}

pub(crate) fn run(matches: &ArgMatches) -> Result<(), Failure> {
    match matches.subcommand() {
        Some(("clients", clients)) => match clients.subcommand() {
            Some(("inspect", m)) => inspect(m),
            Some(("approve", m)) => approve(m),
            Some(("list", m)) => list(m),
            Some(("revoke", m)) => revoke(m),
            _ => unreachable!("clap requires a subcommand"),
        },
        Some(("doctor", m)) => crate::doctor::run(m),
        _ => unreachable!("clap requires a subcommand"),
    }
}

fn url(m: &ArgMatches) -> &str {
    m.get_one::<String>("url").expect("required")
}

/// Where approvals are kept: the registry file, or Redis shared by replicas.
enum Store {
    File(Registry),
    Redis(RedisRegistry, tokio::runtime::Runtime),
}

impl Store {
    fn location(&self) -> String {
        match self {
            Store::File(registry) => registry.location().to_owned(),
            Store::Redis(registry, _) => registry.location(),
        }
    }

    fn entry(&self, client_id: &str) -> Result<Option<ApprovedClient>, Failure> {
        match self {
            Store::File(registry) => Ok(registry.get(client_id)),
            Store::Redis(registry, rt) => rt.block_on(registry.get(client_id)).map_err(redis_down),
        }
    }

    fn approve(&self, client: &ClientInfo) -> Result<ApprovedClient, Failure> {
        match self {
            Store::File(registry) => Ok(registry.approve(client)?),
            Store::Redis(registry, rt) => rt.block_on(registry.approve(client)).map_err(redis_down),
        }
    }

    fn clients(&self) -> Result<Vec<ApprovedClient>, Failure> {
        match self {
            Store::File(registry) => Ok(registry.clients()),
            Store::Redis(registry, rt) => rt.block_on(registry.clients()).map_err(redis_down),
        }
    }

    fn revoke(&self, client_id: &str) -> Result<Option<ApprovedClient>, Failure> {
        match self {
            Store::File(registry) => Ok(registry.revoke(client_id)?),
            Store::Redis(registry, rt) => {
                rt.block_on(registry.revoke(client_id)).map_err(redis_down)
            }
        }
    }
}

fn redis_down(error: mcp_auth_redis::Unavailable) -> Failure {
    Failure::new(UNAVAILABLE, error.to_string())
        .hint("check that Redis is running and reachable from here, then try again")
}

fn registry(m: &ArgMatches) -> Result<Store, Failure> {
    let location = m.get_one::<String>("registry").expect("has a default");
    if !location.starts_with("redis://") {
        if location.contains("://") {
            // Never taken for a file: `revoke` would report a client "not approved" that is.
            return Err(Failure::new(
                USAGE,
                "--registry: a file path or a redis:// URL (rediss:// and unix sockets are not \
                 supported)",
            ));
        }
        return Ok(Store::File(Registry::open_or_empty(Path::new(location))?));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(UNAVAILABLE, format!("cannot start the async runtime: {e}")))?;
    // An operator's command may wait longer than a request would. The connection belongs to
    // the runtime it is made in.
    let _inside = runtime.enter();
    let redis = Redis::builder(location.as_str())
        .call_timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| Failure::new(USAGE, format!("--registry: {e}")))?;
    Ok(Store::Redis(RedisRegistry::new(redis), runtime))
}

fn resolver(m: &ArgMatches) -> Result<ClientResolver, Failure> {
    let mut policy = FetchPolicy::default().timeout(Duration::from_secs(5));
    if m.get_flag("allow-loopback") {
        policy = policy.allow_loopback(true);
    }
    if let Some(path) = m.get_one::<String>("ca-file") {
        let pem = std::fs::read(path)
            .map_err(|e| Failure::new(USAGE, format!("--ca-file `{path}`: {e}")))?;
        policy = policy.root_certificate_pem(pem);
    }
    ClientResolver::builder()
        .fetch_policy(policy)
        .build()
        .map_err(|e| Failure::new(USAGE, format!("--ca-file: {e}")))
}

/// Fetches and validates now, bypassing every cache.
fn fetch(m: &ArgMatches) -> Result<ClientInfo, Failure> {
    let resolver = resolver(m)?;
    let url = url(m);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(UNAVAILABLE, format!("cannot start the async runtime: {e}")))?;
    runtime
        .block_on(resolver.resolve_uncached(url))
        .map_err(|error| resolve_failure(&error, url, m.get_flag("allow-loopback")))
}

fn resolve_failure(error: &ResolveError, url: &str, allow_loopback: bool) -> Failure {
    let code = if error.is_transient() {
        UNAVAILABLE
    } else {
        REFUSED
    };
    let failure = Failure::new(code, error.to_string());
    // Only loopback opens with the development switch; private networks never do.
    let loopback = match error {
        ResolveError::InvalidClientId(_) => CimdUrl::parse(url, true).is_ok(),
        ResolveError::Refused(FetchError::ForbiddenAddress { reason, .. }) => {
            reason.contains("loopback")
        }
        _ => false,
    };
    match error {
        _ if loopback && !allow_loopback => failure.hint(
            "for a document served from this machine during development, add --allow-loopback \
             (and --ca-file PEM for a self-signed certificate)",
        ),
        ResolveError::Unavailable(_) => {
            failure.hint("the document could not be fetched now; check the URL and try again")
        }
        _ => failure,
    }
}

fn inspect(m: &ArgMatches) -> Result<(), Failure> {
    let client = fetch(m)?;
    let registry = registry(m)?;
    let entry = registry.entry(client.id())?;
    let approval = Approval::of(entry.as_ref(), client.digest());
    if m.get_flag("json") {
        println!("{}", output::client_json(&client, approval, entry.as_ref()));
    } else {
        print!(
            "{}",
            output::client_text(&client, approval, entry.as_ref(), &registry.location())
        );
    }
    Ok(())
}

fn approve(m: &ArgMatches) -> Result<(), Failure> {
    let client = fetch(m)?;
    let registry = registry(m)?;
    let entry = registry.entry(client.id())?;
    let before = Approval::of(entry.as_ref(), client.digest());
    print!(
        "{}",
        output::client_text(&client, before, entry.as_ref(), &registry.location())
    );
    let approved = registry.approve(&client)?;
    let verb = match before {
        Approval::NotApproved => "approved",
        Approval::Approved => "approved again (document unchanged)",
        Approval::Changed => "approved again with its changed document",
    };
    println!();
    println!(
        "{} {verb} in {} at {}",
        output::clean(client.id()),
        registry.location(),
        approved.approved_at
    );
    Ok(())
}

fn list(m: &ArgMatches) -> Result<(), Failure> {
    let registry = registry(m)?;
    let clients = registry.clients()?;
    if m.get_flag("json") {
        println!("{}", output::list_json(&clients));
    } else if clients.is_empty() {
        println!("no approved clients in {}", registry.location());
    } else {
        print!("{}", output::list_text(&clients));
    }
    Ok(())
}

fn revoke(m: &ArgMatches) -> Result<(), Failure> {
    let registry = registry(m)?;
    let url = url(m);
    match registry.revoke(url)? {
        Some(entry) => {
            println!(
                "revoked {} (approved at {}) from {}",
                output::clean(&entry.client_id),
                entry.approved_at,
                registry.location()
            );
            Ok(())
        }
        None => Err(Failure::new(
            REFUSED,
            format!(
                "`{}` is not in the registry {}",
                output::clean(url),
                registry.location()
            ),
        )
        .hint("`mcp-auth clients list` shows the approved clients")),
    }
}
