//! Minting the tokens every configuration is loaded with.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use mcp_auth_testing::{MockIssuer, SigningKey, TokenBuilder, now};

use crate::{CLIENT_ID, RESOURCE, SCOPE};

/// Long enough for a whole run; every configuration checks `exp` with it.
pub(crate) const LIFETIME: Duration = Duration::from_secs(3 * 3600);

/// A valid access token for the benchmark's resource, tool and client, distinct by `n` (and by
/// its random `jti`). It carries `nbf` so that every library checks it (tower-oauth2-resource-server's
/// recommended validation requires the claim).
pub(crate) fn valid(issuer: &MockIssuer, n: usize) -> String {
    issuer
        .token()
        .subject(&format!("user-{n}"))
        .client_id(CLIENT_ID)
        .scope(SCOPE)
        .claim("nbf", now())
        .expires_in(LIFETIME)
        .sign()
}

/// A valid token signed by `key` without touching the issuer (for minting on many threads).
pub(crate) fn valid_with_key(key: &SigningKey, issuer: &str, n: usize) -> String {
    let issued = now();
    TokenBuilder::new(key)
        .claim("iss", issuer)
        .claim("aud", RESOURCE)
        .claim("sub", format!("user-{n}"))
        .claim("client_id", CLIENT_ID)
        .claim("scope", SCOPE)
        .claim("iat", issued)
        .claim("nbf", issued)
        .claim("exp", issued + LIFETIME.as_secs())
        .claim("jti", format!("t{n}"))
        .sign()
}

/// `count` distinct valid tokens, minted on `threads` threads (RS256 signing costs about a
/// millisecond each).
pub(crate) fn pool(issuer: &MockIssuer, count: usize, threads: usize) -> Vec<String> {
    let key = issuer.current_key();
    let iss = issuer.issuer().to_owned();
    let threads = threads.max(1);
    let mut out = vec![String::new(); count];
    std::thread::scope(|scope| {
        for (t, chunk) in out.chunks_mut(count.div_ceil(threads).max(1)).enumerate() {
            let key = &key;
            let iss = &iss;
            let base = t * count.div_ceil(threads).max(1);
            scope.spawn(move || {
                for (i, slot) in chunk.iter_mut().enumerate() {
                    *slot = valid_with_key(key, iss, base + i);
                }
            });
        }
    });
    out
}

/// Tokens every authenticated configuration must refuse, and one it must accept.
#[derive(Clone, Debug)]
pub(crate) struct CheckTokens {
    /// A valid token.
    pub(crate) valid: String,
    /// `valid` with one signature character changed.
    pub(crate) tampered_signature: String,
    /// `valid`'s header and signature around another token's claims (a wider scope).
    pub(crate) tampered_claims: String,
    /// Correctly signed, expired ten minutes ago (beyond every library's leeway).
    pub(crate) expired: String,
    /// Correctly signed, for another audience.
    pub(crate) wrong_audience: String,
    /// Correctly signed, valid only from ten minutes from now.
    pub(crate) not_yet_valid: String,
    /// Valid, but without the tool's scope.
    pub(crate) insufficient_scope: String,
    /// Valid, issued to a client whose id is a metadata-document URL that cannot be one (it
    /// has a fragment).
    pub(crate) invalid_client: String,
    /// A token bound to a client key, and the key, for DPoP presentations.
    pub(crate) dpop: DpopMaterial,
}

/// A DPoP-bound token and the client key its proofs are signed with.
#[derive(Clone, Debug)]
pub(crate) struct DpopMaterial {
    pub(crate) key: SigningKey,
    pub(crate) token: String,
}

impl DpopMaterial {
    fn mint(issuer: &MockIssuer) -> Self {
        let key = SigningKey::generate(mcp_auth_testing::Algorithm::ES256, "loadbench-client");
        let token = issuer
            .token()
            .client_id(CLIENT_ID)
            .scope(SCOPE)
            .claim("nbf", now())
            .claim(
                "cnf",
                serde_json::json!({"jkt": key.thumbprint().expect("an ES256 key")}),
            )
            .expires_in(LIFETIME)
            .sign();
        Self { key, token }
    }

    /// A fresh proof for one request to the benchmark's resource.
    pub(crate) fn proof(&self) -> String {
        self.key.dpop_proof("POST", RESOURCE, &self.token).sign()
    }
}

impl CheckTokens {
    pub(crate) fn mint(issuer: &MockIssuer) -> Self {
        let valid = valid(issuer, 0);
        let parts: Vec<&str> = valid.split('.').collect();
        let mut signature: Vec<u8> = parts[2].as_bytes().to_vec();
        let middle = signature.len() / 2;
        signature[middle] = if signature[middle] == b'A' {
            b'B'
        } else {
            b'A'
        };
        let tampered_signature = format!(
            "{}.{}.{}",
            parts[0],
            parts[1],
            String::from_utf8(signature).expect("base64url")
        );
        let wider = issuer
            .token()
            .client_id(CLIENT_ID)
            .scope("mcp:read mcp:admin")
            .claim("nbf", now())
            .expires_in(LIFETIME)
            .sign();
        let wider_claims = wider.split('.').nth(1).expect("claims").to_owned();
        let tampered_claims = format!("{}.{wider_claims}.{}", parts[0], parts[2]);
        let expired = issuer
            .token()
            .client_id(CLIENT_ID)
            .scope(SCOPE)
            .claim("iat", now() - 3600)
            .claim("nbf", now() - 3600)
            .expired(600)
            .sign();
        let wrong_audience = issuer
            .token()
            .client_id(CLIENT_ID)
            .scope(SCOPE)
            .audience("https://other.loadbench.example/mcp")
            .claim("nbf", now())
            .expires_in(LIFETIME)
            .sign();
        let not_yet_valid = issuer
            .token()
            .client_id(CLIENT_ID)
            .scope(SCOPE)
            .claim("nbf", now() + 600)
            .expires_in(LIFETIME)
            .sign();
        let insufficient_scope = issuer
            .token()
            .client_id(CLIENT_ID)
            .scope("mcp:other")
            .claim("nbf", now())
            .expires_in(LIFETIME)
            .sign();
        let invalid_client = issuer
            .token()
            .client_id("https://clients.loadbench.example/client.json#fragment")
            .scope(SCOPE)
            .claim("nbf", now())
            .expires_in(LIFETIME)
            .sign();
        Self {
            dpop: DpopMaterial::mint(issuer),
            insufficient_scope,
            invalid_client,
            valid,
            tampered_signature,
            tampered_claims,
            expired,
            wrong_audience,
            not_yet_valid,
        }
    }
}

/// Writes one token per line.
pub(crate) fn write_lines(path: &Path, tokens: &[String]) -> std::io::Result<()> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    for token in tokens {
        file.write_all(token.as_bytes())?;
        file.write_all(b"\n")?;
    }
    file.flush()
}
