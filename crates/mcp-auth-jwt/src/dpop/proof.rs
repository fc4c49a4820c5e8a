//! Verifying one DPoP proof (RFC 9449 §4.3) for one request.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mcp_auth_core::{Algorithm, AuthError};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::replay::ProofId;
use crate::jwks::{clip, parse_jwk};

/// Longest proof accepted, in bytes.
const MAX_PROOF_BYTES: usize = 8 * 1024;
/// Longest `jti` accepted, in bytes.
const MAX_JTI_BYTES: usize = 256;
/// JWK members that only a private key has.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

fn invalid(reason: &'static str, description: impl Into<String>) -> AuthError {
    AuthError::invalid_dpop_proof(reason, description.into())
}

/// What a valid proof establishes.
#[derive(Debug)]
pub(crate) struct VerifiedProof {
    /// The RFC 7638 thumbprint of the key that signed it.
    pub(crate) jkt: String,
    pub(crate) id: ProofId,
    pub(crate) iat: u64,
    /// The server nonce the proof carries, if any.
    pub(crate) nonce: Option<String>,
}

/// What the proof must match.
pub(crate) struct Expected<'a> {
    pub(crate) method: &'a str,
    /// The target URI, normalised (see [`normalise_htu`]).
    pub(crate) htu: &'a str,
    pub(crate) token: &'a str,
    pub(crate) algorithms: &'a [Algorithm],
    pub(crate) now: u64,
    pub(crate) max_age: u64,
    pub(crate) max_skew: u64,
}

/// Checks `proof` against what this request needs: its header, key, signature and claims.
pub(crate) fn verify(proof: &str, expected: &Expected<'_>) -> Result<VerifiedProof, AuthError> {
    if proof.len() > MAX_PROOF_BYTES {
        return Err(invalid(
            "proof_too_large",
            format!("the DPoP proof is longer than {MAX_PROOF_BYTES} bytes"),
        ));
    }
    let mut parts = proof.split('.');
    let (Some(header), Some(claims), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("malformed_proof", "the DPoP proof is not a JWS"));
    };
    let header = object(header, "header")?;
    let typ = header.get("typ").and_then(Value::as_str);
    if !typ.is_some_and(|t| t.eq_ignore_ascii_case("dpop+jwt")) {
        return Err(invalid(
            "wrong_typ",
            "the DPoP proof's `typ` must be `dpop+jwt`",
        ));
    }
    let alg_name = header.get("alg").and_then(Value::as_str).unwrap_or("none");
    let alg = alg_name.parse::<Algorithm>().ok().filter(|alg| {
        !matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
            && expected.algorithms.contains(alg)
    });
    let Some(alg) = alg else {
        return Err(invalid(
            "alg_not_allowed",
            format!(
                "the DPoP proof's algorithm `{}` is not accepted (an asymmetric one from the server's list)",
                clip(alg_name)
            ),
        ));
    };
    let Some(jwk_value @ Value::Object(jwk)) = header.get("jwk") else {
        return Err(invalid(
            "missing_jwk",
            "the DPoP proof's header has no `jwk`",
        ));
    };
    if let Some(member) = PRIVATE_MEMBERS.iter().find(|m| jwk.contains_key(**m)) {
        return Err(invalid(
            "private_jwk",
            format!("the DPoP proof's `jwk` holds private key material (`{member}`)"),
        ));
    }
    let key = match parse_jwk(jwk_value) {
        Ok(Some(key)) if key.accepts(alg) => key,
        Ok(_) => {
            return Err(invalid(
                "bad_jwk",
                "the DPoP proof's `jwk` cannot verify its algorithm",
            ));
        }
        Err(why) => {
            return Err(invalid(
                "bad_jwk",
                format!("the DPoP proof's `jwk` is unusable: {why}"),
            ));
        }
    };
    let signed = &proof[..proof.len() - signature.len() - 1];
    let verified = crate::jose(alg).is_some_and(|jose| {
        jsonwebtoken::crypto::verify(signature, signed.as_bytes(), &key.key, jose).unwrap_or(false)
    });
    if !verified {
        return Err(invalid(
            "bad_proof_signature",
            "the DPoP proof's signature does not verify with its `jwk`",
        ));
    }
    let claims = object(claims, "claims")?;
    let text = |name: &'static str| -> Result<&str, AuthError> {
        claims.get(name).and_then(Value::as_str).ok_or_else(|| {
            invalid(
                "missing_claim",
                format!("the DPoP proof has no `{name}` string claim"),
            )
        })
    };
    let jti = text("jti")?;
    if jti.is_empty() || jti.len() > MAX_JTI_BYTES {
        return Err(invalid(
            "bad_jti",
            format!("the DPoP proof's `jti` must be 1 to {MAX_JTI_BYTES} bytes"),
        ));
    }
    if text("htm")? != expected.method {
        return Err(invalid(
            "wrong_htm",
            format!(
                "the DPoP proof is for method `{}`, not `{}`",
                clip(text("htm")?),
                expected.method
            ),
        ));
    }
    let htu = text("htu")?;
    if normalise_htu(htu).as_deref() != Some(expected.htu) {
        return Err(invalid(
            "wrong_htu",
            format!(
                "the DPoP proof is for `{}`, not `{}`",
                clip(htu),
                expected.htu
            ),
        ));
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_u64)
        .ok_or_else(|| invalid("missing_claim", "the DPoP proof has no numeric `iat`"))?;
    if iat > expected.now.saturating_add(expected.max_skew) {
        return Err(invalid(
            "proof_from_the_future",
            format!(
                "the DPoP proof was made {} seconds in the future",
                iat - expected.now
            ),
        ));
    }
    if expected.now > iat.saturating_add(expected.max_age) {
        return Err(invalid(
            "stale_proof",
            format!(
                "the DPoP proof was made {} seconds ago; proofs are accepted for {} seconds",
                expected.now - iat,
                expected.max_age
            ),
        ));
    }
    let ath = URL_SAFE_NO_PAD.encode(Sha256::digest(expected.token.as_bytes()));
    if text("ath")? != ath {
        return Err(invalid(
            "wrong_ath",
            "the DPoP proof was made for another access token (`ath`)",
        ));
    }
    let jkt = mcp_auth_core::jwk_thumbprint(jwk).ok_or_else(|| {
        invalid(
            "bad_jwk",
            "the DPoP proof's `jwk` lacks a member its thumbprint needs",
        )
    })?;
    let nonce = claims
        .get("nonce")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(VerifiedProof {
        id: ProofId::new(&jkt, jti),
        jkt,
        iat,
        nonce,
    })
}

fn object(part: &str, what: &str) -> Result<Map<String, Value>, AuthError> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| {
        invalid(
            "malformed_proof",
            format!("the DPoP proof's {what} is not base64url"),
        )
    })?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(invalid(
            "malformed_proof",
            format!("the DPoP proof's {what} is not a JSON object"),
        )),
    }
}

/// `htu` as compared (RFC 9449 §4.3 point 9, RFC 3986 §6.2.2 and §6.2.3): scheme and host in lower
/// case, no default port, no query or fragment. `None` for something that is not an absolute
/// http(s) URL.
pub(crate) fn normalise_htu(htu: &str) -> Option<String> {
    let url = url::Url::parse(htu).ok()?;
    if !matches!(url.scheme(), "https" | "http") {
        return None;
    }
    let host = url.host_str()?;
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    Some(format!("{}://{host}{port}{}", url.scheme(), url.path()))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn htu_is_compared_in_normal_form() {
        for (given, normal) in [
            (
                "https://MCP.example.com/mcp",
                Some("https://mcp.example.com/mcp"),
            ),
            (
                "https://mcp.example.com:443/mcp?x=1#f",
                Some("https://mcp.example.com/mcp"),
            ),
            (
                "HTTP://127.0.0.1:8080/mcp",
                Some("http://127.0.0.1:8080/mcp"),
            ),
            (
                "https://mcp.example.com:8443/mcp",
                Some("https://mcp.example.com:8443/mcp"),
            ),
            ("ftp://mcp.example.com/mcp", None),
            ("/mcp", None),
        ] {
            assert_eq!(normalise_htu(given).as_deref(), normal, "{given}");
        }
    }

    proptest::proptest! {
        /// Case in scheme and host, the default port, a query and a fragment never change what
        /// a proof's `htu` is compared as; the path always does.
        #[test]
        fn htu_normal_form_ignores_what_rfc_3986_says_is_equivalent(
            upper_scheme in proptest::bool::ANY,
            upper_host in proptest::bool::ANY,
            default_port in proptest::bool::ANY,
            query in "[a-z0-9=&]{0,12}",
            fragment in "[a-z0-9]{0,8}",
            path in "/[a-z0-9]{1,10}",
        ) {
            let scheme = if upper_scheme { "HTTPS" } else { "https" };
            let host = if upper_host { "MCP.Example.COM" } else { "mcp.example.com" };
            let port = if default_port { ":443" } else { "" };
            let mut htu = format!("{scheme}://{host}{port}{path}");
            if !query.is_empty() {
                htu.push('?');
                htu.push_str(&query);
            }
            if !fragment.is_empty() {
                htu.push('#');
                htu.push_str(&fragment);
            }
            let want = format!("https://mcp.example.com{path}");
            proptest::prop_assert_eq!(normalise_htu(&htu), Some(want.clone()));
            let other_path = format!("https://mcp.example.com{path}x");
            proptest::prop_assert_ne!(normalise_htu(&other_path), Some(want));
        }
    }
}
