//! DNS resolution that keeps only addresses the policy allows.

use std::net::SocketAddr;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::FetchPolicy;

/// A name whose every address is refused. Typed so that [`FetchError`](crate::FetchError) can
/// report it as a refusal rather than an outage.
#[derive(Debug)]
pub(crate) struct RefusedName {
    pub(crate) host: String,
    pub(crate) reason: &'static str,
}

impl std::fmt::Display for RefusedName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` resolves only to refused addresses: {}",
            self.host, self.reason
        )
    }
}

impl std::error::Error for RefusedName {}

/// Resolves with the system resolver, then drops refused addresses. reqwest connects to exactly
/// the addresses returned here, which pins the connection to what was checked.
pub(crate) struct GuardedResolver {
    policy: FetchPolicy,
}

impl GuardedResolver {
    pub(crate) fn new(policy: &FetchPolicy) -> Self {
        Self {
            policy: FetchPolicy {
                root_certificates: Vec::new(),
                ..policy.clone()
            },
        }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let resolved: Vec<SocketAddr> = match &policy.lookup {
                Some(lookup) => (lookup.0)(&host)
                    .await
                    .map_err(|e| format!("cannot resolve `{host}`: {e}"))?
                    .into_iter()
                    .map(|ip| SocketAddr::new(ip, 0))
                    .collect(),
                None => tokio::net::lookup_host((host.as_str(), 0))
                    .await
                    .map_err(|e| format!("cannot resolve `{host}`: {e}"))?
                    .collect(),
            };
            let mut refused = None;
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|addr| match policy.check_address(addr.ip()) {
                    Ok(()) => true,
                    Err(reason) => {
                        refused = Some(reason);
                        false
                    }
                })
                .collect();
            if allowed.is_empty() {
                let reason = refused.unwrap_or("no addresses");
                let refusal: Box<dyn std::error::Error + Send + Sync> =
                    Box::new(RefusedName { host, reason });
                return Err(refusal);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}
