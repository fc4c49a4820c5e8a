use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::{AddressClass, classify};

/// The rules every fetch follows. Strict by default; each relaxation is explicit.
#[derive(Clone, Debug)]
#[must_use]
pub struct FetchPolicy {
    pub(crate) timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) max_body_bytes: usize,
    pub(crate) allow_loopback: bool,
    pub(crate) allow_private_networks: bool,
    pub(crate) root_certificates: Vec<Vec<u8>>,
    pub(crate) lookup: Option<Lookup>,
}

/// The future a custom name lookup returns.
pub type LookupFuture = Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>>;

/// A name lookup replacing the system resolver.
#[derive(Clone)]
pub(crate) struct Lookup(pub(crate) Arc<dyn Fn(&str) -> LookupFuture + Send + Sync>);

impl fmt::Debug for Lookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Lookup(..)")
    }
}

impl Default for FetchPolicy {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
            max_body_bytes: 256 * 1024,
            allow_loopback: false,
            allow_private_networks: false,
            root_certificates: Vec::new(),
            lookup: None,
        }
    }
}

impl FetchPolicy {
    /// Overall time limit of one fetch: connecting, headers and the whole body. Defaults to 5 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Time limit for establishing the connection. Defaults to 2 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Largest response body read, in bytes. Defaults to 256 KiB.
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// The development switch: allow loopback addresses, and plain `http://` to loopback hosts
    /// (`localhost`, 127.0.0.0/8, `::1`). Off by default; never turn it on in production, where
    /// it would let a hostile document make the server fetch from itself.
    pub fn allow_loopback(mut self, allow: bool) -> Self {
        self.allow_loopback = allow;
        self
    }

    /// Allow private-network addresses (RFC 1918, shared address space, unique-local IPv6), for
    /// an issuer that lives on an internal network. Off by default. Link-local and cloud metadata
    /// addresses stay unreachable whatever this says.
    pub fn allow_private_networks(mut self, allow: bool) -> Self {
        self.allow_private_networks = allow;
        self
    }

    /// Resolves host names with `lookup` instead of the system resolver (a static host map, a
    /// service-discovery client, a test). Its answers pass the same address rules, and each
    /// connection goes to an address that was checked: a second, different answer (DNS
    /// rebinding) is never asked for.
    pub fn resolve_with(
        mut self,
        lookup: impl Fn(&str) -> LookupFuture + Send + Sync + 'static,
    ) -> Self {
        self.lookup = Some(Lookup(Arc::new(lookup)));
        self
    }

    /// Trusts an extra root certificate (PEM), e.g. a development CA.
    pub fn root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificates.push(pem.into());
        self
    }

    /// The overall timeout.
    pub fn get_timeout(&self) -> Duration {
        self.timeout
    }

    /// True when the development switch is on.
    pub fn allows_loopback(&self) -> bool {
        self.allow_loopback
    }

    /// Whether `ip` may be contacted, and if not, why.
    pub(crate) fn check_address(&self, ip: IpAddr) -> Result<(), &'static str> {
        match classify(ip) {
            AddressClass::Public => Ok(()),
            AddressClass::Loopback if self.allow_loopback => Ok(()),
            AddressClass::Loopback => Err("loopback (enable the development switch to allow it)"),
            AddressClass::Private if self.allow_private_networks => Ok(()),
            AddressClass::Private => Err("private network"),
            AddressClass::Forbidden(reason) => Err(reason),
        }
    }
}
