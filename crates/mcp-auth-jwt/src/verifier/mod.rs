//! The verifier: trusted issuers, key caches, and the access-token rules.

mod claims;
mod issuer;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mcp_auth_core::Algorithm;
use mcp_auth_core::{AuthError, Principal, ResourceId, TokenDigest};
use mcp_auth_fetch::{FetchPolicy, Fetcher};
use quick_cache::sync::Cache;

use crate::config::{IssuerConfig, KeySource, MAX_LEEWAY, Tenants, TypPolicy};
use crate::jwks::{KeySet, VerificationKey, clip, hmac_key, parse_jwks};
use crate::profile::IssuerTemplate;
use crate::telemetry::{Path, Telemetry};
use crate::token;
use issuer::{Freshness, IssuerState};
use mcp_auth_core::telemetry;
use opentelemetry::KeyValue;

/// Most signature checks made for one token (several keys may share a `kid`, or a token may
/// carry none).
const MAX_SIGNATURE_ATTEMPTS: usize = 4;

type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// A check run only for tokens not remembered from an earlier verification.
pub(crate) type FirstSightCheck = fn(&str) -> Result<(), AuthError>;

/// Verifies bearer JWTs for one resource server.
///
/// Cheap to clone (an `Arc`). A token seen before is recognised by the SHA-256 of its bytes in a
/// bounded cache until it expires; every hit re-checks the expiry and that the key that signed
/// it is still published. First sights cost one signature verification when the issuer's keys
/// are cached; an unknown `kid` triggers at most one JWKS fetch per refresh interval, shared by
/// every request waiting for it.
///
/// ```
/// use mcp_auth_jwt::{IssuerConfig, Verifier};
/// use mcp_auth_core::ResourceId;
///
/// let verifier = Verifier::builder(ResourceId::parse("https://mcp.example.com/mcp").unwrap())
///     .issuer(IssuerConfig::discover("https://auth.example.com"))
///     .build()
///     .unwrap();
/// assert_eq!(verifier.resource().as_str(), "https://mcp.example.com/mcp");
/// ```
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    resource: ResourceId,
    issuers: Vec<IssuerState>,
    by_issuer: HashMap<String, usize>,
    /// Multi-tenant issuers, matched by shape when no issuer is named exactly.
    templates: Vec<(IssuerTemplate, usize)>,
    /// The one issuer whose opaque tokens are introspected, if any.
    introspector: Option<usize>,
    keys: Cache<usize, Arc<KeySet>>,
    /// Keyed by the token itself (shared with the cached principal's copy): an exact match,
    /// found without hashing the token with SHA-256 on every request.
    tokens: Cache<Arc<str>, CachedToken>,
    fetcher: Option<Fetcher>,
    max_token_bytes: usize,
    refresh_interval: Duration,
    freshness: Freshness,
    clock: Clock,
    dpop: crate::DpopConfig,
    /// The resource identifier as DPoP proofs' `htu` is compared with it.
    htu: String,
    telemetry: Telemetry,
}

#[derive(Clone)]
struct CachedToken {
    principal: Principal,
    expires: u64,
    leeway: u64,
    issuer: usize,
    generation: u64,
    key: [u8; 32],
    /// For an introspected token: when to ask the issuer again (no key to re-check).
    recheck_at: Option<u64>,
}

/// The outcome of a synchronous verification attempt.
pub(crate) enum Attempt {
    Done(Result<Principal, AuthError>),
    /// The issuer's keys must be fetched first; `seen` is the key-set generation looked at.
    NeedKeys {
        issuer: usize,
        seen: Option<u64>,
    },
    /// An opaque token: the issuer must be asked (RFC 7662).
    Introspect {
        issuer: usize,
    },
}

impl Verifier {
    /// Starts configuring a verifier for the resource server `resource`.
    pub fn builder(resource: ResourceId) -> VerifierBuilder {
        VerifierBuilder {
            resource,
            issuers: Vec::new(),
            token_cache_capacity: 10_000,
            max_token_bytes: 16 * 1024,
            refresh_interval: Duration::from_secs(30),
            freshness: Freshness {
                min: Duration::from_secs(60),
                max: Duration::from_secs(24 * 3600),
                default: Duration::from_secs(600),
            },
            fetch_policy: FetchPolicy::default(),
            clock: None,
            dpop: crate::DpopConfig::default(),
        }
    }

    /// The resource identifier tokens must be issued for.
    pub fn resource(&self) -> &ResourceId {
        &self.inner.resource
    }

    /// The DPoP proof algorithms accepted, space-separated (for challenges and the RFC 9728
    /// document's `dpop_signing_alg_values_supported`).
    pub fn dpop_algorithms(&self) -> String {
        self.inner.dpop.algorithm_names()
    }

    /// True when every trusted issuer's tokens must be DPoP-bound
    /// ([`DpopPolicy::Required`](crate::DpopPolicy::Required)).
    pub fn requires_dpop(&self) -> bool {
        self.inner
            .issuers
            .iter()
            .all(|i| i.config.dpop == crate::DpopPolicy::Required)
    }

    /// Whether a token of `principal`'s issuer may be used as it was presented: a DPoP-bound
    /// token only with a valid proof (never as a bearer token), the issuer's DPoP policy, and
    /// for a DPoP presentation the proof itself (method, URL, token, key, freshness, replay).
    pub(crate) fn check_presentation(
        &self,
        principal: &Principal,
        presented: &crate::dpop::Presentation<'_>,
    ) -> Result<crate::dpop::Checked, AuthError> {
        let issuer = self
            .select_issuer(principal.issuer())
            .map(|(index, _)| {
                let config = &self.inner.issuers[index].config;
                crate::dpop::IssuerDpop {
                    policy: config.dpop,
                    require_nonce: config.dpop_nonce,
                }
            })
            // Every verified token's issuer is one of ours; if it could not be found again,
            // the strictest reading applies.
            .unwrap_or(crate::dpop::IssuerDpop {
                policy: crate::DpopPolicy::Required,
                require_nonce: true,
            });
        crate::dpop::check(
            &self.inner.dpop,
            issuer,
            principal,
            presented,
            &self.inner.htu,
            (self.inner.clock)(),
        )
    }

    /// The issuer identifiers trusted, in configuration order.
    pub fn issuers(&self) -> impl Iterator<Item = &str> {
        self.inner.issuers.iter().map(|i| i.config.issuer.as_str())
    }

    /// Verifies a token presented as a bearer token. A token bound to a key (`cnf`, DPoP) is
    /// refused: its proof is for one request, which only [`VerifyLayer`](crate::VerifyLayer)
    /// sees.
    ///
    /// # Errors
    /// 401 `invalid_token` with a precise description for a token that is not acceptable; 503
    /// when the issuer's keys cannot be obtained.
    pub async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let principal = self
            .complete(token, self.try_verify(token, true, None))
            .await?;
        // As a bearer token: a token bound to a key is refused here, since only `VerifyLayer`
        // sees the request its proof is for.
        let bearer = crate::dpop::Presentation {
            dpop: false,
            token,
            method: "",
            headers: &http::HeaderMap::new(),
        };
        self.check_presentation(&principal, &bearer)?;
        Ok(principal)
    }

    /// Finishes an attempt that needs the network: fetching keys, or introspecting.
    pub(crate) async fn complete(
        &self,
        token: &str,
        attempt: Attempt,
    ) -> Result<Principal, AuthError> {
        match attempt {
            Attempt::Done(result) => result,
            Attempt::NeedKeys { issuer, seen } => {
                self.verify_after_refresh(token, issuer, seen).await
            }
            Attempt::Introspect { issuer } => {
                let started = Instant::now();
                let result = self.introspect(token, issuer).await;
                self.inner
                    .telemetry
                    .verified(Path::Introspection, started, &result);
                result
            }
        }
    }

    /// Asks the issuer what an opaque token means, and applies the access-token rules to the
    /// answer.
    async fn introspect(&self, token: &str, index: usize) -> Result<Principal, AuthError> {
        let inner = &*self.inner;
        let state = &inner.issuers[index];
        let (Some(fetcher), Some(introspection)) = (&inner.fetcher, &state.config.introspection)
        else {
            return Err(self.keys_unavailable(index));
        };
        let unavailable = |why: String| {
            tracing::warn!(
                target: "mcp_auth::jwt",
                issuer = %state.config.issuer,
                error = %why,
                "token introspection failed"
            );
            AuthError::unavailable(
                "introspection_unavailable",
                "the token issuer cannot be asked about this token right now; retry later",
                Duration::from_secs(1),
            )
        };
        let endpoint = state
            .introspection_endpoint(fetcher)
            .await
            .map_err(unavailable)?;
        let answer = introspection
            .ask(fetcher, &endpoint, token)
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let claims = crate::introspection::claims_of(answer, &state.config.issuer)?;
        let now = (inner.clock)();
        let digest = TokenDigest::of(token.as_bytes());
        let principal = claims::check(
            claims,
            &state.config,
            &inner.resource,
            now,
            token,
            digest,
            None,
        )?;
        let recheck_at = introspection
            .cache_for
            .map_or(u64::MAX, |d| now.saturating_add(d.as_secs()));
        inner.tokens.insert(
            principal.token().shared_secret(),
            CachedToken {
                principal: principal.clone(),
                expires: principal.expires_at(),
                leeway: state.config.leeway.as_secs(),
                issuer: index,
                generation: 0,
                key: [0; 32],
                recheck_at: Some(recheck_at),
            },
        );
        Ok(principal)
    }

    /// The slow path: refresh the issuer's keys (single-flight, rate-limited), then verify with
    /// whatever keys there are.
    pub(crate) async fn verify_after_refresh(
        &self,
        token: &str,
        issuer: usize,
        seen: Option<u64>,
    ) -> Result<Principal, AuthError> {
        let started = Instant::now();
        self.refresh(issuer, seen).await;
        let attempt = match self.cached(token) {
            Some(result) => Attempt::Done(result),
            None => self.first_sight(token, false, None),
        };
        match attempt {
            Attempt::Done(result) => {
                self.inner
                    .telemetry
                    .verified(Path::KeysFetched, started, &result);
                result
            }
            Attempt::NeedKeys { issuer, .. } => Err(self.keys_unavailable(issuer)),
            // Not reached: an opaque token asks for introspection before it asks for keys.
            Attempt::Introspect { issuer } => self.introspect(token, issuer).await,
        }
    }

    /// Fetches every remote issuer's keys now (e.g. at start-up, so the first request does not
    /// wait). Returns the issuers whose keys could not be obtained, with why.
    pub async fn warm_up(&self) -> Vec<(String, String)> {
        let mut failures = Vec::new();
        for (i, state) in self.inner.issuers.iter().enumerate() {
            if !state.is_remote() {
                continue;
            }
            let seen = self.inner.keys.get(&i).map(|k| k.generation);
            if let Err(e) = self.refresh_now(i, seen).await {
                failures.push((state.config.issuer.clone(), e));
            }
        }
        failures
    }

    /// Tries to verify without waiting for the network. `first_sight_check` runs only for
    /// tokens not remembered from an earlier verification.
    pub(crate) fn try_verify(
        &self,
        token: &str,
        may_fetch: bool,
        first_sight_check: Option<FirstSightCheck>,
    ) -> Attempt {
        let started = Instant::now();
        let telemetry = &self.inner.telemetry;
        if let Some(result) = self.cached(token) {
            telemetry.looked_up(true);
            telemetry.verified(Path::Cache, started, &result);
            return Attempt::Done(result);
        }
        telemetry.looked_up(false);
        let attempt = self.first_sight(token, may_fetch, first_sight_check);
        if let Attempt::Done(result) = &attempt {
            telemetry.verified(Path::Signature, started, result);
        }
        attempt
    }

    /// The remembered verdict on a token, while it stands.
    fn cached(&self, token: &str) -> Option<Result<Principal, AuthError>> {
        let tokens = &self.inner.tokens;
        let hit = tokens.get(token)?;
        let result = self.check_cached(&hit);
        if result.is_none() {
            tokens.remove(token);
        }
        result
    }

    /// Verifies a token not found in the cache, without waiting for the network.
    fn first_sight(
        &self,
        token: &str,
        may_fetch: bool,
        first_sight_check: Option<FirstSightCheck>,
    ) -> Attempt {
        let inner = &*self.inner;
        if let Some(check) = first_sight_check
            && let Err(e) = check(token)
        {
            return Attempt::Done(Err(e));
        }
        if let Some(issuer) = inner.introspector
            && !matches!(token.split('.').count(), 3 | 5)
            && token.len() <= inner.max_token_bytes
        {
            return Attempt::Introspect { issuer };
        }
        let parsed = match token::parse(token, inner.max_token_bytes) {
            Ok(p) => p,
            Err(e) => return Attempt::Done(Err(e)),
        };
        let iss = match token::string_claim(&parsed.claims, "iss") {
            Ok(Some(iss)) => iss,
            Ok(None) => return done_invalid("missing_claim", "token has no `iss` claim".into()),
            Err(e) => return Attempt::Done(Err(e)),
        };
        let (index, tenant) = match self.select_issuer(iss) {
            Ok(found) => found,
            Err(e) => return Attempt::Done(Err(e)),
        };
        let state = &inner.issuers[index];
        let config = &state.config;
        if !config.algorithms.contains(&parsed.alg) {
            return done_invalid(
                "alg_not_allowed",
                format!(
                    "algorithm {:?} is not accepted for issuer `{}`",
                    parsed.alg, config.issuer
                ),
            );
        }
        if let Err(e) = check_typ(parsed.typ.as_deref(), config.typ) {
            return Attempt::Done(Err(e));
        }
        let Some(keys) = inner.keys.get(&index) else {
            if may_fetch && state.may_fetch_now(inner.refresh_interval) {
                return Attempt::NeedKeys {
                    issuer: index,
                    seen: None,
                };
            }
            return Attempt::Done(Err(self.keys_unavailable(index)));
        };
        self.refresh_if_stale(index, &keys);

        let mut candidates = keys
            .candidates(parsed.kid.as_deref(), parsed.alg)
            .peekable();
        if candidates.peek().is_none() {
            let kid_unknown = parsed.kid.as_deref().is_none_or(|kid| !keys.has_kid(kid));
            if kid_unknown && may_fetch && state.may_fetch_now(inner.refresh_interval) {
                return Attempt::NeedKeys {
                    issuer: index,
                    seen: Some(keys.generation),
                };
            }
            return done_invalid(
                "unknown_key",
                match &parsed.kid {
                    Some(kid) if kid_unknown => {
                        format!("issuer publishes no key with kid `{}`", clip(kid))
                    }
                    Some(kid) => {
                        format!("key `{}` may not be used with {:?}", clip(kid), parsed.alg)
                    }
                    None => format!("issuer publishes no key for {:?}", parsed.alg),
                },
            );
        }
        let verified: Option<&VerificationKey> = crate::jose(parsed.alg).and_then(|alg| {
            candidates.take(MAX_SIGNATURE_ATTEMPTS).find(|key| {
                jsonwebtoken::crypto::verify(
                    parsed.signature,
                    parsed.signing_input.as_bytes(),
                    &key.key,
                    alg,
                )
                .unwrap_or(false)
            })
        });
        let Some(key) = verified else {
            return done_invalid(
                "bad_signature",
                "token signature does not verify with the issuer's keys".into(),
            );
        };
        if let Err(e) = check_key_issuer(key, iss, &parsed.claims) {
            return Attempt::Done(Err(e));
        }
        let now = (inner.clock)();
        // Computed once per verified token, for the fingerprint audit events carry.
        let digest = TokenDigest::of(token.as_bytes());
        let tenant = tenant.map(str::to_owned);
        let result = claims::check(
            parsed.claims,
            config,
            &inner.resource,
            now,
            token,
            digest,
            tenant.as_deref(),
        );
        if let Ok(principal) = &result {
            inner.tokens.insert(
                principal.token().shared_secret(),
                CachedToken {
                    principal: principal.clone(),
                    expires: principal.expires_at(),
                    leeway: config.leeway.as_secs(),
                    issuer: index,
                    generation: keys.generation,
                    key: key.fingerprint,
                    recheck_at: None,
                },
            );
        }
        Attempt::Done(result)
    }

    /// The trusted issuer a token's `iss` names, and for a multi-tenant issuer the tenant.
    fn select_issuer<'a>(&self, iss: &'a str) -> Result<(usize, Option<&'a str>), AuthError> {
        let inner = &*self.inner;
        if let Some(&index) = inner.by_issuer.get(iss) {
            return Ok((index, None));
        }
        for (template, index) in &inner.templates {
            let Some(tenant) = template.tenant_of(iss) else {
                continue;
            };
            let config = &inner.issuers[*index].config;
            if config.tenants.as_ref().is_some_and(|t| t.admits(tenant)) {
                return Ok((*index, Some(tenant)));
            }
            return Err(AuthError::invalid_token(
                "tenant_not_allowed",
                format!(
                    "token tenant `{}` is not admitted by this resource",
                    clip(tenant)
                ),
            ));
        }
        Err(AuthError::invalid_token(
            "untrusted_issuer",
            format!(
                "token issuer `{}` is not trusted by this resource",
                clip(iss)
            ),
        ))
    }

    /// A cache hit stands while the token has not expired and its key is still published.
    fn check_cached(&self, hit: &CachedToken) -> Option<Result<Principal, AuthError>> {
        let now = (self.inner.clock)();
        if now >= hit.expires.saturating_add(hit.leeway) {
            return Some(Err(AuthError::invalid_token(
                "expired",
                format!("token expired {} seconds ago", now - hit.expires),
            )));
        }
        if let Some(recheck_at) = hit.recheck_at {
            // Introspected: no key to re-check; ask the issuer again once the answer is old.
            return (now < recheck_at).then(|| Ok(hit.principal.clone()));
        }
        let keys = self.inner.keys.get(&hit.issuer)?;
        if keys.generation != hit.generation && !keys.contains(&hit.key) {
            return None;
        }
        Some(Ok(hit.principal.clone()))
    }

    fn keys_unavailable(&self, issuer: usize) -> AuthError {
        let wait = self.inner.issuers[issuer].refresh_wait(self.inner.refresh_interval);
        let retry = if wait == Duration::MAX {
            self.inner.refresh_interval
        } else {
            wait
        };
        AuthError::unavailable(
            "keys_unavailable",
            "the token issuer's signing keys are unavailable right now; retry later",
            retry.max(Duration::from_secs(1)),
        )
    }

    /// Starts a background refresh when the key set is past its freshness and a fetch is allowed.
    fn refresh_if_stale(&self, index: usize, keys: &KeySet) {
        let stale = keys
            .fresh_until
            .is_some_and(|until| Instant::now() >= until);
        if !stale
            || !self.inner.issuers[index]
                .refresh_wait(self.inner.refresh_interval)
                .is_zero()
        {
            return;
        }
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let this = self.clone();
            let seen = Some(keys.generation);
            handle.spawn(async move { this.refresh(index, seen).await });
        }
    }

    /// Refreshes one issuer's keys unless another caller already did since `seen`, or the
    /// refresh interval has not passed. Failures keep the previous keys.
    async fn refresh(&self, index: usize, seen: Option<u64>) {
        if let Err(e) = self.refresh_now(index, seen).await {
            tracing::warn!(
                target: "mcp_auth::jwt",
                issuer = %self.inner.issuers[index].config.issuer,
                error = %e,
                "JWKS refresh failed; previous keys (if any) stay in use"
            );
        }
    }

    async fn refresh_now(&self, index: usize, seen: Option<u64>) -> Result<(), String> {
        let inner = &*self.inner;
        let state = &inner.issuers[index];
        let Some(fetcher) = &inner.fetcher else {
            return Ok(());
        };
        let _gate = state.refresh_gate.lock().await;
        let current = inner.keys.get(&index).map(|k| k.generation);
        if current != seen {
            return Ok(()); // someone refreshed while we waited
        }
        if !state.refresh_wait(inner.refresh_interval).is_zero() {
            return Ok(());
        }
        state.mark_attempt();
        let span = telemetry::start_span(
            "mcp_auth.jwks.fetch",
            vec![KeyValue::new("issuer", state.config.issuer.clone())],
        );
        let fetched = state.fetch(fetcher, inner.freshness).await;
        telemetry::end_span(span, &fetched);
        inner
            .telemetry
            .fetched(&state.config.issuer, fetched.is_ok());
        state.record_outcome(fetched.is_ok());
        let fetched = fetched?;
        for skipped in &fetched.skipped {
            tracing::warn!(target: "mcp_auth::jwt", issuer = %state.config.issuer, "skipped JWKS key: {skipped}");
        }
        let set = KeySet::new(
            fetched.keys,
            current.unwrap_or(0) + 1,
            Some(Instant::now() + fetched.fresh_for),
        );
        inner.keys.insert(index, Arc::new(set));
        Ok(())
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("resource", &self.inner.resource)
            .field("issuers", &self.issuers().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn done_invalid(reason: &'static str, description: String) -> Attempt {
    Attempt::Done(Err(AuthError::invalid_token(reason, description)))
}

/// A key that names its issuer (Entra's shared JWKS) signs only for that issuer; a
/// `{tenantid}` in the name stands for the token's own `tid`.
fn check_key_issuer(
    key: &VerificationKey,
    iss: &str,
    claims: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), AuthError> {
    let Some(key_issuer) = &key.issuer else {
        return Ok(());
    };
    let expected = match claims.get("tid").and_then(serde_json::Value::as_str) {
        Some(tid) => key_issuer.replace(crate::profile::TENANT_PLACEHOLDER, tid),
        None => key_issuer.clone(),
    };
    if expected == iss {
        return Ok(());
    }
    Err(AuthError::invalid_token(
        "key_issuer_mismatch",
        format!(
            "the key that signed the token is published for issuer `{}`, not `{}`",
            clip(key_issuer),
            clip(iss)
        ),
    ))
}

fn check_typ(typ: Option<&str>, policy: TypPolicy) -> Result<(), AuthError> {
    let is_at =
        |t: &str| t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt");
    let ok = match (policy, typ) {
        (_, Some(t)) if is_at(t) => true,
        (TypPolicy::Lenient, None) => true,
        (TypPolicy::Lenient, Some(t)) => t.eq_ignore_ascii_case("jwt"),
        (TypPolicy::AccessToken, _) => false,
    };
    if ok {
        return Ok(());
    }
    Err(AuthError::invalid_token(
        "wrong_typ",
        match typ {
            Some(t) => format!(
                "token `typ` is `{}`; access tokens must be typed `at+jwt` (RFC 9068)",
                clip(t)
            ),
            None => "token has no `typ`; access tokens must be typed `at+jwt` (RFC 9068)".into(),
        },
    ))
}

/// Configures a [`Verifier`].
#[must_use]
pub struct VerifierBuilder {
    resource: ResourceId,
    issuers: Vec<IssuerConfig>,
    token_cache_capacity: usize,
    max_token_bytes: usize,
    refresh_interval: Duration,
    freshness: Freshness,
    fetch_policy: FetchPolicy,
    clock: Option<Clock>,
    dpop: crate::DpopConfig,
}

impl VerifierBuilder {
    /// Trusts an issuer. The token's `iss` selects it; only its keys are tried.
    pub fn issuer(mut self, issuer: IssuerConfig) -> Self {
        self.issuers.push(issuer);
        self
    }

    /// Capacity of the verified-token cache, in tokens. Defaults to 10,000.
    pub fn token_cache_capacity(mut self, tokens: usize) -> Self {
        self.token_cache_capacity = tokens;
        self
    }

    /// Longest token accepted, in bytes. Defaults to 16 KiB.
    pub fn max_token_bytes(mut self, bytes: usize) -> Self {
        self.max_token_bytes = bytes;
        self
    }

    /// Shortest time between two JWKS fetches for one issuer, whatever triggers them (unknown
    /// `kid`s, staleness, failures). Defaults to 30 s.
    pub fn refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval;
        self
    }

    /// Bounds on how long a JWKS stays fresh: its `Cache-Control: max-age` clamped to
    /// `[min, max]`, or `default` without one. Defaults: 60 s, 24 h, 10 min.
    pub fn jwks_freshness(mut self, min: Duration, max: Duration, default: Duration) -> Self {
        self.freshness = Freshness { min, max, default };
        self
    }

    /// The outbound HTTP policy for discovery and JWKS fetches. Defaults to
    /// [`FetchPolicy::default`] (https only, public addresses only).
    pub fn fetch_policy(mut self, policy: FetchPolicy) -> Self {
        self.fetch_policy = policy;
        self
    }

    /// How DPoP proofs are checked. Defaults to [`DpopConfig::default`](crate::DpopConfig): DPoP
    /// presentations are accepted from every issuer whose policy allows them.
    pub fn dpop(mut self, config: crate::DpopConfig) -> Self {
        self.dpop = config;
        self
    }

    /// Replaces the clock (seconds since the Unix epoch), for tests.
    pub fn clock(mut self, clock: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Validates the configuration and builds the verifier: everything checkable without the
    /// network, including that every issuer's discovery or JWKS URL is allowed by the fetch
    /// policy (a loopback issuer needs the development switch).
    ///
    /// # Errors
    /// A [`ConfigError`] naming the issuer and the fix.
    pub fn build(self) -> Result<Verifier, ConfigError> {
        if self.issuers.is_empty() {
            return Err(ConfigError::new(
                "no issuer configured; add one with `.issuer(...)`",
            ));
        }
        if self.token_cache_capacity == 0 {
            return Err(ConfigError::new("token_cache_capacity must be at least 1"));
        }
        if let Some(problem) = self.dpop.problem() {
            return Err(ConfigError::new(problem));
        }
        let epoch = Instant::now();
        let keys = Cache::new(self.issuers.len().max(1));
        let mut by_issuer = HashMap::new();
        let mut templates = Vec::new();
        let mut introspector = None;
        let mut states = Vec::new();
        // (issuer, first URL fetched for it), checked against the fetch policy below.
        let mut fetched = Vec::new();
        for (index, config) in self.issuers.into_iter().enumerate() {
            let name = config.issuer.clone();
            if url::Url::parse(&name).is_err() {
                return Err(ConfigError::new(format!(
                    "issuer `{name}` is not an absolute URL"
                )));
            }
            if by_issuer.insert(name.clone(), index).is_some() {
                return Err(ConfigError::new(format!(
                    "issuer `{name}` is configured twice"
                )));
            }
            if let Some(Tenants::Only(ids)) = &config.tenants
                && ids.is_empty()
            {
                return Err(ConfigError::new(format!(
                    "issuer `{name}`: the tenant allow list is empty"
                )));
            }
            match (IssuerTemplate::parse(&name), &config.tenants) {
                (Some(template), Some(_)) => {
                    if matches!(config.keys, KeySource::Discovery) && config.metadata_base.is_none()
                    {
                        return Err(ConfigError::new(format!(
                            "issuer `{name}`: a multi-tenant issuer needs the shared endpoint its metadata is published under (IssuerConfig::multi_tenant, or `issuer` = the `common`/`organizations` URL with `tenants` in the TOML)"
                        )));
                    }
                    templates.push((template, index));
                }
                (Some(_), None) => {
                    return Err(ConfigError::new(format!(
                        "issuer `{name}` is a multi-tenant template: say which tenants it admits (Tenants::only([...]) or, explicitly, Tenants::Any)"
                    )));
                }
                (None, Some(_)) => {
                    return Err(ConfigError::new(format!(
                        "issuer `{name}`: tenants are set but the issuer is neither a shared `common`/`organizations`/`consumers` endpoint nor a template holding `{{tenantid}}`"
                    )));
                }
                (None, None) => {}
            }
            if config.introspection.is_some() {
                if config.tenants.is_some() {
                    return Err(ConfigError::new(format!(
                        "issuer `{name}`: a multi-tenant issuer's opaque tokens cannot be introspected (the answer names no tenant to check)"
                    )));
                }
                if let Some(first) = introspector {
                    return Err(ConfigError::new(format!(
                        "issuer `{name}`: only one issuer may introspect opaque tokens (issuer #{} already does); an opaque token names no issuer and is never sent to two",
                        first + 1
                    )));
                }
                introspector = Some(index);
                let endpoint = config
                    .introspection
                    .as_ref()
                    .and_then(|i| i.endpoint.clone())
                    .unwrap_or_else(|| config.metadata_location().to_owned());
                fetched.push((name.clone(), endpoint));
            }
            if config.accept_missing_audience && config.client_ids.is_empty() {
                return Err(ConfigError::new(format!(
                    "issuer `{name}`: tokens without `aud` ({} profile) are accepted only from listed clients; add the app client ids (IssuerConfig::client_ids, `client_ids = [...]` in the TOML, --client-id)",
                    config.profile
                )));
            }
            if config.leeway > MAX_LEEWAY {
                return Err(ConfigError::new(format!(
                    "issuer `{name}`: leeway of {:?} exceeds the maximum of {MAX_LEEWAY:?}",
                    config.leeway
                )));
            }
            if config.algorithms.is_empty() {
                return Err(ConfigError::new(format!(
                    "issuer `{name}`: the algorithm allowlist is empty"
                )));
            }
            let hmac = config
                .algorithms
                .iter()
                .any(|a| matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512));
            let shared = matches!(config.keys, KeySource::SharedSecret(_));
            if hmac != shared || (shared && config.algorithms.len() != 1) {
                return Err(ConfigError::new(format!(
                    "issuer `{name}`: HMAC algorithms need exactly one, configured with IssuerConfig::shared_secret"
                )));
            }
            match &config.keys {
                KeySource::Static(jwks) => {
                    let (parsed, skipped) = parse_jwks(jwks).map_err(|e| {
                        ConfigError::new(format!("issuer `{name}`: static keys: {e}"))
                    })?;
                    if parsed.is_empty() {
                        return Err(ConfigError::new(format!(
                            "issuer `{name}`: static keys hold no usable key ({})",
                            skipped.join("; ")
                        )));
                    }
                    keys.insert(index, Arc::new(KeySet::new(parsed, 1, None)));
                }
                KeySource::SharedSecret(secret) => {
                    if secret.len() < 32 {
                        return Err(ConfigError::new(format!(
                            "issuer `{name}`: an HMAC secret must be at least 32 bytes"
                        )));
                    }
                    keys.insert(
                        index,
                        Arc::new(KeySet::new(vec![hmac_key(secret)], 1, None)),
                    );
                }
                KeySource::JwksUri(url) => fetched.push((name.clone(), url.clone())),
                KeySource::Discovery => fetched.push((
                    name.clone(),
                    config.metadata_base.clone().unwrap_or_else(|| name.clone()),
                )),
            }
            states.push(IssuerState::new(config, epoch));
        }
        // A template is matched by shape only: a token whose `iss` is the literal template names
        // no tenant, and must not be taken for one of the issuer's.
        by_issuer.retain(|_, index| templates.iter().all(|(_, t)| t != index));
        let fetcher = if fetched.is_empty() {
            None
        } else {
            let fetcher =
                Fetcher::new(self.fetch_policy).map_err(|e| ConfigError::new(e.to_string()))?;
            // Refuse now what every request would otherwise answer with 503.
            for (name, url) in &fetched {
                if let Err(e) = fetcher.check_url(url) {
                    return Err(ConfigError::new(format!(
                        "issuer `{name}`: {e}; {}",
                        fetch_fix(&e)
                    )));
                }
            }
            Some(fetcher)
        };
        let clock = self.clock.unwrap_or_else(|| {
            Arc::new(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0)
            })
        });
        let htu = crate::dpop::normalise_htu(self.resource.as_str())
            .unwrap_or_else(|| self.resource.to_string());
        Ok(Verifier {
            inner: Arc::new(Inner {
                htu,
                telemetry: Telemetry::new(),
                dpop: self.dpop,
                resource: self.resource,
                issuers: states,
                by_issuer,
                templates,
                introspector,
                keys,
                tokens: Cache::new(self.token_cache_capacity),
                fetcher,
                max_token_bytes: self.max_token_bytes,
                refresh_interval: self.refresh_interval,
                freshness: self.freshness,
                clock,
            }),
        })
    }
}

/// An invalid verifier configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid token verification config: {0}")]
pub struct ConfigError(String);

impl ConfigError {
    fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

#[cfg(test)]
mod tests;

/// How to admit a URL the fetch policy refused, in the words of the settings.
fn fetch_fix(error: &mcp_auth_fetch::FetchError) -> &'static str {
    match error {
        mcp_auth_fetch::FetchError::ForbiddenAddress { reason, .. }
            if reason.starts_with("loopback") =>
        {
            "for a development issuer on this machine turn on the development switch: FetchPolicy::allow_loopback(true) (`allow_loopback = true` under `[fetch]` in the TOML)"
        }
        mcp_auth_fetch::FetchError::ForbiddenAddress { .. } => {
            "for an issuer on an internal network use FetchPolicy::allow_private_networks(true) (`allow_private_networks = true` under `[fetch]`)"
        }
        mcp_auth_fetch::FetchError::Scheme { .. } => {
            "issuers are fetched over https; plain http is allowed only to loopback hosts under the development switch, FetchPolicy::allow_loopback(true)"
        }
        _ => "use the issuer's absolute https URL",
    }
}
