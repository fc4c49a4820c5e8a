//! Outbound HTTP for mcp-auth, with one set of safety rules for every fetch.
//!
//! Discovery documents, JWKS, client metadata documents and token exchanges all go through a
//! [`Fetcher`]. Whatever the caller, a fetch:
//!
//! - has an overall timeout (connect, headers and body together), so a slow peer cannot hold a
//!   request hostage;
//! - reads at most a configured number of bytes, refusing a larger `Content-Length` before
//!   reading and stopping a longer body as it streams;
//! - never follows redirects (a 3xx is an error naming the refusal);
//! - reaches only public addresses by default. IP literals are checked directly; names are
//!   resolved by a resolver that drops loopback, private, link-local (cloud metadata) and reserved
//!   addresses, and the connection is made to exactly the addresses it kept, so a name cannot be
//!   rebound to a private address between the check and the connection;
//! - uses `https`, except with the explicit development switch
//!   [`FetchPolicy::allow_loopback`], which admits `http://` and loopback addresses, and only
//!   for loopback hosts.
//!
//! # Example
//!
//! ```
//! use mcp_auth_fetch::{FetchError, FetchPolicy, Fetcher};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let fetcher = Fetcher::new(FetchPolicy::default()).unwrap();
//! // Cloud metadata endpoints are never reachable.
//! let err = fetcher.get("http://169.254.169.254/latest/meta-data/").await.unwrap_err();
//! assert!(matches!(err, FetchError::Scheme { .. } | FetchError::ForbiddenAddress { .. }));
//! let err = fetcher.get("https://169.254.169.254/latest/meta-data/").await.unwrap_err();
//! assert!(matches!(err, FetchError::ForbiddenAddress { .. }));
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs, rust_2018_idioms, unreachable_pub)]

mod address;
mod config;
pub mod discovery;
mod error;
mod policy;
mod resolver;
mod response;

use std::sync::Arc;

pub use address::{AddressClass, classify};

/// The HTTP Basic user and password for OAuth client credentials: each form-urlencoded first,
/// as RFC 6749 §2.3.1 requires (so `:` in a client id and `%` or `+` in a secret survive).
///
/// ```
/// assert_eq!(
///     mcp_auth_fetch::client_basic_credentials("app:1", "s+cret%"),
///     ("app%3A1".to_owned(), "s%2Bcret%25".to_owned())
/// );
/// ```
pub fn client_basic_credentials(client_id: &str, secret: &str) -> (String, String) {
    let encode = |value: &str| url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
    (encode(client_id), encode(secret))
}
pub use config::{ClientSecretMethod, FetchConfig};
pub use error::FetchError;
pub use policy::{FetchPolicy, LookupFuture};
pub use response::FetchResponse;

use http::header::{self, HeaderValue};
use url::{Host, Url};

/// An HTTP client that applies a [`FetchPolicy`] to every request. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Fetcher {
    client: reqwest::Client,
    policy: Arc<FetchPolicy>,
}

impl Fetcher {
    /// Builds a client for `policy`.
    ///
    /// # Errors
    /// [`FetchError::Client`] when the TLS configuration cannot be built (e.g. a bad extra root
    /// certificate).
    pub fn new(policy: FetchPolicy) -> Result<Self, FetchError> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(policy.timeout)
            .connect_timeout(policy.connect_timeout)
            .user_agent(concat!("mcp-auth/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(resolver::GuardedResolver::new(&policy)));
        for pem in &policy.root_certificates {
            let cert = reqwest::Certificate::from_pem(pem)
                .map_err(|e| FetchError::Client(format!("bad root certificate: {e}")))?;
            builder = builder.add_root_certificate(cert);
        }
        let client = builder
            .build()
            .map_err(|e| FetchError::Client(e.to_string()))?;
        Ok(Self {
            client,
            policy: Arc::new(policy),
        })
    }

    /// The policy in force.
    pub fn policy(&self) -> &FetchPolicy {
        &self.policy
    }

    /// Checks a URL against the policy without fetching it.
    ///
    /// # Errors
    /// Not a URL, a scheme other than `https` (or `http` to loopback under the development
    /// switch), userinfo, or an IP literal in a refused range.
    pub fn check_url(&self, url: &str) -> Result<Url, FetchError> {
        let parsed = Url::parse(url).map_err(|e| FetchError::Url(format!("`{url}`: {e}")))?;
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(FetchError::Url(format!("`{url}` contains credentials")));
        }
        let host = parsed
            .host()
            .ok_or_else(|| FetchError::Url(format!("`{url}` has no host")))?;
        let loopback_host = match &host {
            Host::Domain(d) => {
                let d = d.trim_end_matches('.');
                d.eq_ignore_ascii_case("localhost")
                    || d.to_ascii_lowercase().ends_with(".localhost")
            }
            Host::Ipv4(ip) => ip.is_loopback(),
            Host::Ipv6(ip) => classify((*ip).into()) == AddressClass::Loopback,
        };
        match parsed.scheme() {
            "https" => {}
            "http" if self.policy.allow_loopback && loopback_host => {}
            scheme => {
                return Err(FetchError::Scheme {
                    url: url.into(),
                    scheme: scheme.into(),
                });
            }
        }
        if loopback_host && !self.policy.allow_loopback {
            return Err(FetchError::ForbiddenAddress {
                host: host.to_string(),
                reason: "loopback (enable the development switch to allow it)",
            });
        }
        let ip = match host {
            Host::Ipv4(ip) => Some(ip.into()),
            Host::Ipv6(ip) => Some(ip.into()),
            Host::Domain(_) => None,
        };
        if let Some(ip) = ip {
            self.policy
                .check_address(ip)
                .map_err(|reason| FetchError::ForbiddenAddress {
                    host: ip.to_string(),
                    reason,
                })?;
        }
        Ok(parsed)
    }

    /// `GET url`, reading at most the policy's body limit.
    ///
    /// # Errors
    /// See [`FetchError`]. Non-2xx statuses are returned as responses, not errors; redirects are
    /// errors.
    pub async fn get(&self, url: &str) -> Result<FetchResponse, FetchError> {
        self.get_limited(url, "application/json", self.policy.max_body_bytes)
            .await
    }

    /// `GET url` with an `Accept` header and a body limit of `max_bytes`.
    ///
    /// # Errors
    /// See [`FetchError`].
    pub async fn get_limited(
        &self,
        url: &str,
        accept: &str,
        max_bytes: usize,
    ) -> Result<FetchResponse, FetchError> {
        let parsed = self.check_url(url)?;
        let request = self.client.get(parsed).header(
            header::ACCEPT,
            HeaderValue::from_str(accept)
                .map_err(|_| FetchError::Url("bad Accept value".into()))?,
        );
        self.send(url, request, max_bytes).await
    }

    /// `GET url` and parse a 2xx JSON body.
    ///
    /// # Errors
    /// See [`FetchError`]; a non-2xx status is [`FetchError::Status`].
    pub async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
    ) -> Result<(T, FetchResponse), FetchError> {
        let response = self.get(url).await?;
        response.require_success()?;
        let value = response.json()?;
        Ok((value, response))
    }

    /// `POST url` with a form body, optional HTTP Basic credentials (RFC 6749 §2.3.1 encoding
    /// is the caller's job) and extra headers (e.g. a DPoP proof).
    ///
    /// # Errors
    /// See [`FetchError`]. Non-2xx statuses are returned as responses: OAuth errors come as 400
    /// with a JSON body the caller parses.
    pub async fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
        basic_auth: Option<(&str, &str)>,
        headers: &[(http::HeaderName, HeaderValue)],
    ) -> Result<FetchResponse, FetchError> {
        let parsed = self.check_url(url)?;
        let mut request = self
            .client
            .post(parsed)
            .header(header::ACCEPT, HeaderValue::from_static("application/json"))
            .form(form);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        if let Some((user, password)) = basic_auth {
            request = request.basic_auth(user, Some(password));
        }
        self.send(url, request, self.policy.max_body_bytes).await
    }

    /// Any request, with extra headers and an optional JSON body, under the same policy: for
    /// probes that look at statuses and headers (a server's challenge, its CORS answer).
    ///
    /// # Errors
    /// See [`FetchError`]. Non-2xx statuses are returned as responses.
    pub async fn request(
        &self,
        method: http::Method,
        url: &str,
        headers: &[(&str, &str)],
        json_body: Option<&serde_json::Value>,
    ) -> Result<FetchResponse, FetchError> {
        let parsed = self.check_url(url)?;
        let mut request = self.client.request(method, parsed);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = json_body {
            request = request
                .header(header::CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        self.send(url, request, self.policy.max_body_bytes).await
    }

    async fn send(
        &self,
        url: &str,
        request: reqwest::RequestBuilder,
        max_bytes: usize,
    ) -> Result<FetchResponse, FetchError> {
        let mut response = request
            .send()
            .await
            .map_err(|e| FetchError::from_reqwest(url, e))?;
        let status = response.status();
        if status.is_redirection() {
            return Err(FetchError::Redirect {
                url: url.into(),
                status: status.as_u16(),
            });
        }
        if response
            .content_length()
            .is_some_and(|len| len > max_bytes as u64)
        {
            return Err(FetchError::TooLarge {
                url: url.into(),
                limit: max_bytes,
            });
        }
        let headers = response.headers().clone();
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| FetchError::from_reqwest(url, e))?
        {
            if body.len() + chunk.len() > max_bytes {
                return Err(FetchError::TooLarge {
                    url: url.into(),
                    limit: max_bytes,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(FetchResponse::new(url.into(), status, headers, body.into()))
    }
}

#[cfg(test)]
mod tests;
