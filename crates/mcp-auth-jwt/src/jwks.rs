//! Parsing a JWKS into keys that are each bound to the algorithms they may verify.

use std::collections::HashMap;
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use mcp_auth_core::Algorithm;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Most keys taken from one JWKS; the rest are ignored.
pub(crate) const MAX_KEYS: usize = 64;
/// Shortest RSA modulus accepted, in bytes (2048 bits, RFC 7518 §3.3).
const MIN_RSA_MODULUS_BYTES: usize = 256;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyKind {
    Rsa,
    P256,
    P384,
    Ed25519,
    Oct,
}

/// A usable verification key.
pub(crate) struct VerificationKey {
    pub(crate) kid: Option<String>,
    /// The JWK's declared `alg`; when present the key verifies only that algorithm.
    pub(crate) alg: Option<Algorithm>,
    pub(crate) kind: KeyKind,
    pub(crate) key: DecodingKey,
    /// SHA-256 of the public key material: recognises the same key across refreshes.
    pub(crate) fingerprint: [u8; 32],
    /// The issuer the key may sign for, when the JWKS says (Entra's shared JWKS names one per
    /// key, possibly a `{tenantid}` template).
    pub(crate) issuer: Option<String>,
}

impl VerificationKey {
    /// One algorithm per key: its declared `alg`, else what its type and curve allow.
    pub(crate) fn accepts(&self, alg: Algorithm) -> bool {
        if let Some(declared) = self.alg {
            return declared == alg;
        }
        kind_accepts(self.kind, alg)
    }
}

fn kind_accepts(kind: KeyKind, alg: Algorithm) -> bool {
    use Algorithm::*;
    match kind {
        KeyKind::Rsa => matches!(alg, RS256 | RS384 | RS512 | PS256 | PS384 | PS512),
        KeyKind::P256 => alg == ES256,
        KeyKind::P384 => alg == ES384,
        KeyKind::Ed25519 => alg == EdDSA,
        KeyKind::Oct => matches!(alg, HS256 | HS384 | HS512),
    }
}

/// The keys of one issuer at one moment.
pub(crate) struct KeySet {
    pub(crate) keys: Vec<VerificationKey>,
    by_kid: HashMap<String, Vec<usize>>,
    /// Bumped on every successful refresh; a cached token from the same generation needs no
    /// key check.
    pub(crate) generation: u64,
    /// Until when the set is fresh; after it, a background refresh is due.
    pub(crate) fresh_until: Option<Instant>,
}

impl KeySet {
    pub(crate) fn new(
        keys: Vec<VerificationKey>,
        generation: u64,
        fresh_until: Option<Instant>,
    ) -> Self {
        let mut by_kid: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, key) in keys.iter().enumerate() {
            if let Some(kid) = &key.kid {
                by_kid.entry(kid.clone()).or_default().push(i);
            }
        }
        Self {
            keys,
            by_kid,
            generation,
            fresh_until,
        }
    }

    /// Candidate keys for a token: those with its `kid` (or every key when it has none) that
    /// accept its algorithm.
    pub(crate) fn candidates(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> impl Iterator<Item = &VerificationKey> {
        let indices: Box<dyn Iterator<Item = usize> + '_> = match kid {
            Some(kid) => Box::new(self.by_kid.get(kid).into_iter().flatten().copied()),
            None => Box::new(0..self.keys.len()),
        };
        indices
            .map(|i| &self.keys[i])
            .filter(move |k| k.accepts(alg))
    }

    /// True if the set holds a key with this `kid` (of any algorithm).
    pub(crate) fn has_kid(&self, kid: &str) -> bool {
        self.by_kid.contains_key(kid)
    }

    /// True if the set still holds the key with this fingerprint.
    pub(crate) fn contains(&self, fingerprint: &[u8; 32]) -> bool {
        self.keys.iter().any(|k| &k.fingerprint == fingerprint)
    }
}

/// Parses a JWKS document. Unusable keys are skipped (and named), never fatal: one odd key must
/// not lock out every token of the issuer.
pub(crate) fn parse_jwks(document: &Value) -> Result<(Vec<VerificationKey>, Vec<String>), String> {
    let keys = document
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| "JWKS has no `keys` array".to_owned())?;
    let mut usable = Vec::new();
    let mut skipped = Vec::new();
    for (i, jwk) in keys.iter().enumerate() {
        if usable.len() == MAX_KEYS {
            skipped.push(format!("keys after the first {MAX_KEYS} are ignored"));
            break;
        }
        match parse_jwk(jwk) {
            Ok(Some(key)) => usable.push(key),
            Ok(None) => {}
            Err(why) => skipped.push(format!("key {i}: {why}")),
        }
    }
    Ok((usable, skipped))
}

/// Parses one JWK. `Ok(None)` for keys that are not for signatures.
pub(crate) fn parse_jwk(jwk: &Value) -> Result<Option<VerificationKey>, String> {
    let text = |name: &str| jwk.get(name).and_then(Value::as_str);
    if text("use").is_some_and(|u| u != "sig") {
        return Ok(None);
    }
    if let Some(ops) = jwk.get("key_ops").and_then(Value::as_array)
        && !ops.iter().any(|op| op.as_str() == Some("verify"))
    {
        return Ok(None);
    }
    let alg = match text("alg") {
        None => None,
        Some(name) => Some(
            name.parse::<Algorithm>()
                .map_err(|_| format!("unsupported alg `{}`", clip(name)))?,
        ),
    };
    let kid = match jwk.get("kid") {
        None => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => return Err("`kid` is not a string".into()),
    };
    let component = |name: &str| -> Result<Vec<u8>, String> {
        let value = text(name).ok_or_else(|| format!("missing `{name}`"))?;
        URL_SAFE_NO_PAD
            .decode(value)
            .map_err(|_| format!("`{name}` is not base64url"))
    };
    let kty = text("kty").ok_or("missing `kty`")?;
    let (kind, key, material) = match kty {
        "RSA" => {
            let n = component("n")?;
            let e = component("e")?;
            let modulus = n.iter().skip_while(|b| **b == 0).count();
            if modulus < MIN_RSA_MODULUS_BYTES {
                return Err(format!("RSA modulus of {} bits is below 2048", modulus * 8));
            }
            let key = DecodingKey::from_rsa_raw_components(&n, &e);
            (KeyKind::Rsa, key, [n, e].concat())
        }
        "EC" => {
            let (kind, len) = match text("crv") {
                Some("P-256") => (KeyKind::P256, 32),
                Some("P-384") => (KeyKind::P384, 48),
                other => return Err(format!("unsupported curve {:?}", other.map(clip))),
            };
            let x = component("x")?;
            let y = component("y")?;
            if x.len() != len || y.len() != len {
                return Err("EC coordinates have the wrong length for the curve".into());
            }
            let point = [&[0x04][..], &x, &y].concat();
            (kind, DecodingKey::from_ec_der(&point), point)
        }
        "OKP" => {
            if text("crv") != Some("Ed25519") {
                return Err(format!("unsupported OKP curve {:?}", text("crv").map(clip)));
            }
            let x = component("x")?;
            if x.len() != 32 {
                return Err("Ed25519 key is not 32 bytes".into());
            }
            (KeyKind::Ed25519, DecodingKey::from_ed_der(&x), x)
        }
        "oct" => return Err("symmetric keys are never taken from a JWKS".into()),
        other => return Err(format!("unsupported kty `{}`", clip(other))),
    };
    if let Some(alg) = alg
        && !kind_accepts(kind, alg)
    {
        return Err(format!("alg {alg:?} contradicts the key type"));
    }
    let fingerprint = Sha256::digest(&material).into();
    let issuer = match jwk.get("issuer") {
        None => None,
        Some(Value::String(issuer)) => Some(issuer.clone()),
        Some(_) => return Err("`issuer` is not a string".into()),
    };
    Ok(Some(VerificationKey {
        kid,
        alg,
        kind,
        key,
        fingerprint,
        issuer,
    }))
}

/// A shared-secret key.
pub(crate) fn hmac_key(secret: &[u8]) -> VerificationKey {
    VerificationKey {
        kid: None,
        alg: None,
        kind: KeyKind::Oct,
        key: DecodingKey::from_secret(secret),
        fingerprint: Sha256::digest(secret).into(),
        issuer: None,
    }
}

/// Untrusted text (a `kid`, a claim) as echoed in messages.
pub(crate) fn clip(s: &str) -> String {
    mcp_auth_core::untrusted_text(s, 64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcp_auth_testing::SigningKey;
    use serde_json::json;

    #[test]
    fn parses_each_key_type_and_binds_algorithms() {
        let rsa = SigningKey::generate(Algorithm::RS256, "r");
        let ec = SigningKey::generate(Algorithm::ES256, "e");
        let ed = SigningKey::generate(Algorithm::EdDSA, "d");
        let mut rsa_no_alg = rsa.public_jwk().clone();
        rsa_no_alg.as_object_mut().unwrap().remove("alg");
        rsa_no_alg["kid"] = json!("r2");
        let doc = json!({"keys": [rsa.public_jwk(), ec.public_jwk(), ed.public_jwk(), rsa_no_alg]});
        let (keys, skipped) = parse_jwks(&doc).unwrap();
        assert!(skipped.is_empty(), "{skipped:?}");
        assert_eq!(keys.len(), 4);
        assert!(keys[0].accepts(Algorithm::RS256) && !keys[0].accepts(Algorithm::PS256));
        assert!(keys[1].accepts(Algorithm::ES256) && !keys[1].accepts(Algorithm::ES384));
        assert!(keys[2].accepts(Algorithm::EdDSA));
        assert!(keys[3].accepts(Algorithm::PS512) && !keys[3].accepts(Algorithm::HS256));
        let set = KeySet::new(keys, 1, None);
        assert_eq!(set.candidates(Some("r"), Algorithm::RS256).count(), 1);
        assert_eq!(set.candidates(Some("r"), Algorithm::ES256).count(), 0);
        assert_eq!(set.candidates(None, Algorithm::RS256).count(), 2);
        assert!(set.has_kid("e") && !set.has_kid("zz"));
    }

    #[test]
    fn skips_unusable_keys_without_rejecting_the_set() {
        let good = SigningKey::generate(Algorithm::ES256, "good");
        let doc = json!({"keys": [
            {"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "tiny"},
            {"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"},
            {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "alg": "ES256"},
            {"kty": "XYZ"},
            {"kty": "oct", "k": "c2VjcmV0"},
            {"kty": "RSA", "n": "!!", "e": "AQAB"},
            {"kty": "EC", "crv": "P-256", "x": good.public_jwk()["x"], "y": good.public_jwk()["y"], "alg": "RS256"},
            {"kty": "EC", "crv": "P-256", "alg": "none"},
            {"kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB"},
            {"kid": 7, "kty": "RSA"},
            "not an object",
            good.public_jwk(),
        ]});
        let (keys, skipped) = parse_jwks(&doc).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].kid.as_deref(), Some("good"));
        assert_eq!(skipped.len(), 10, "{skipped:#?}"); // the `enc` key is silently not a signing key
        assert!(skipped.iter().any(|s| s.contains("below 2048")));
        assert!(skipped.iter().any(|s| s.contains("contradicts")));
        assert!(skipped.iter().any(|s| s.contains("symmetric")));
    }

    #[test]
    fn refuses_documents_without_keys() {
        assert!(parse_jwks(&json!({"nokeys": []})).is_err());
        assert!(parse_jwks(&json!([])).is_err());
    }

    #[test]
    fn caps_the_number_of_keys() {
        let key = SigningKey::generate(Algorithm::EdDSA, "k");
        let doc = json!({"keys": vec![key.public_jwk().clone(); 500]});
        let (keys, skipped) = parse_jwks(&doc).unwrap();
        assert_eq!(keys.len(), MAX_KEYS);
        assert_eq!(skipped.len(), 1);
    }

    #[test]
    fn clip_sanitises() {
        assert_eq!(clip("a\nb"), "a\\u{000a}b");
        assert_eq!(clip(&"x".repeat(100)).chars().count(), 65);
    }
}
