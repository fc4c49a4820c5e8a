//! Private keys for `private_key_jwt` and DPoP proofs, from PEM or from a JWK.

use std::fmt;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::EncodingKey;
use mcp_auth_core::Algorithm;
use serde_json::{Map, Value};

use crate::error::ConfigError;

/// An asymmetric private key that signs `private_key_jwt` client assertions and, as this
/// server's DPoP key, proofs (RFC 9449). Its `Debug` prints the algorithm and key id only.
///
/// ```
/// use mcp_auth_obo::PrivateKey;
///
/// let err = PrivateKey::from_jwk(r#"{"kty":"oct","k":"c2VjcmV0"}"#).unwrap_err();
/// assert!(err.to_string().contains("symmetric"));
/// ```
#[derive(Clone)]
pub struct PrivateKey {
    pub(crate) key: EncodingKey,
    pub(crate) alg: Algorithm,
    /// `alg` as the signature library names it.
    pub(crate) jose: jsonwebtoken::Algorithm,
    pub(crate) kid: Option<String>,
    /// The public half as a JWK (`kty` and the public members only), for DPoP proofs.
    pub(crate) public_jwk: Map<String, Value>,
}

impl PrivateKey {
    /// Reads a PEM private key for `alg`: PKCS#1 (`RSA PRIVATE KEY`) or PKCS#8 (`PRIVATE KEY`)
    /// for RS*/PS*, PKCS#8 for ES256/ES384 and EdDSA. The key is checked by signing a probe.
    ///
    /// # Errors
    /// [`ConfigError::Key`] for an HMAC algorithm, a PEM that is not a private key of that
    /// family, or a key that cannot sign with `alg`.
    pub fn from_pem(pem: &[u8], alg: Algorithm) -> Result<Self, ConfigError> {
        let key = match family(alg)? {
            Family::Rsa => EncodingKey::from_rsa_pem(pem),
            Family::Ec => EncodingKey::from_ec_pem(pem),
            Family::Ed => EncodingKey::from_ed_pem(pem),
        }
        .map_err(|e| ConfigError::Key(format!("not a {alg:?} private key in PEM: {e}")))?;
        let public_jwk = pem_der(pem)
            .and_then(|der| public_from_der(&der, alg))
            .ok_or_else(|| {
                ConfigError::Key(format!("cannot read the public half of the {alg:?} key"))
            })?;
        Self::checked(key, alg, None, public_jwk)
    }

    /// Reads a private JWK (RFC 7517 / 7518 / 8037): `RSA` (with `d`, `p`, `q`, `dp`, `dq`,
    /// `qi`), `EC` on P-256 or P-384 (with `d`), or `OKP` Ed25519 (with `d`). The algorithm is the
    /// JWK's `alg` when present (it must suit the key), else RS256, ES256, ES384 or EdDSA; the key
    /// id is its `kid`. The private and public parts must agree.
    ///
    /// # Errors
    /// [`ConfigError::Key`] naming the problem (not JSON, symmetric, public only, missing or
    /// malformed member, inconsistent key, unsuitable `alg`, `use` other than `sig`).
    pub fn from_jwk(jwk: &str) -> Result<Self, ConfigError> {
        let value: Value = serde_json::from_str(jwk)
            .map_err(|e| ConfigError::Key(format!("the JWK is not JSON: {e}")))?;
        let jwk = value
            .as_object()
            .ok_or_else(|| ConfigError::Key("the JWK is not a JSON object".into()))?;
        if let Some(usage) = jwk.get("use")
            && usage != "sig"
        {
            return Err(ConfigError::Key(
                "the JWK's `use` is not `sig`: it is not a signing key".into(),
            ));
        }
        let text = |name: &str| jwk.get(name).and_then(Value::as_str);
        let declared = match text("alg") {
            Some(name) => Some(parse_alg(name)?),
            None => None,
        };
        let kid = text("kid").map(str::to_owned);
        let (pkcs8, default_alg) = match text("kty") {
            Some("RSA") => (rsa_pkcs8(jwk)?, Algorithm::RS256),
            Some("EC") => ec_pkcs8(jwk)?,
            Some("OKP") => (ed_pkcs8(jwk)?, Algorithm::EdDSA),
            Some("oct") => {
                return Err(ConfigError::Key(
                    "a symmetric (`oct`) key cannot sign private_key_jwt assertions".into(),
                ));
            }
            Some(other) => {
                return Err(ConfigError::Key(format!(
                    "unsupported key type `{}`",
                    clip(other)
                )));
            }
            None => return Err(ConfigError::Key("the JWK has no `kty`".into())),
        };
        let alg = declared.unwrap_or(default_alg);
        let key = match (family(alg)?, family(default_alg)?) {
            (Family::Rsa, Family::Rsa) => {
                EncodingKey::from_rsa_pem(pem_wrap("PRIVATE KEY", &pkcs8).as_bytes())
                    .map_err(|e| ConfigError::Key(format!("RSA key: {e}")))?
            }
            (Family::Ec, Family::Ec) if alg == default_alg => EncodingKey::from_ec_der(&pkcs8),
            (Family::Ed, Family::Ed) => EncodingKey::from_ed_der(&pkcs8),
            _ => {
                return Err(ConfigError::Key(format!(
                    "the JWK's `alg` {alg:?} does not suit its key type"
                )));
            }
        };
        let public_members: &[&str] = match text("kty") {
            Some("RSA") => &["kty", "n", "e"],
            Some("EC") => &["kty", "crv", "x", "y"],
            _ => &["kty", "crv", "x"],
        };
        let public_jwk = public_members
            .iter()
            .filter_map(|name| Some(((*name).to_owned(), jwk.get(*name)?.clone())))
            .collect();
        Self::checked(key, alg, kid, public_jwk)
    }

    /// Reads a key file's contents: a PEM private key (for `pem_alg`), or a private JWK.
    ///
    /// # Errors
    /// As [`PrivateKey::from_pem`] and [`PrivateKey::from_jwk`].
    pub fn from_pem_or_jwk(contents: &[u8], pem_alg: Algorithm) -> Result<Self, ConfigError> {
        if contents.trim_ascii_start().starts_with(b"-----BEGIN") {
            return Self::from_pem(contents, pem_alg);
        }
        let text = std::str::from_utf8(contents)
            .map_err(|_| ConfigError::Key("the key is neither PEM nor a JSON JWK".into()))?;
        Self::from_jwk(text)
    }

    /// Sets the key id (`kid`) put in the assertion header, so the server can pick the key.
    #[must_use]
    pub fn kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The signing algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The key id, when known.
    pub fn key_id(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The RFC 7638 thumbprint of the public key: what a DPoP-bound token's `cnf.jkt` names
    /// when this key signs its proofs.
    pub fn thumbprint(&self) -> String {
        mcp_auth_core::jwk_thumbprint(&self.public_jwk).unwrap_or_default()
    }

    /// The public half as a JWK (`kty` and the public members; no `kid`, `alg` or `use`): what
    /// a JWKS publishing this key holds, with those added.
    pub fn public_jwk(&self) -> &Map<String, Value> {
        &self.public_jwk
    }

    /// A fresh ES256 (P-256) key from the crypto backend's random generator, for a process
    /// that signs with a key nobody needs to keep (it is gone when the process ends).
    ///
    /// # Errors
    /// [`ConfigError::Key`] if the backend cannot generate one.
    pub fn generate_es256() -> Result<Self, ConfigError> {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .map_err(|e| ConfigError::Key(format!("cannot generate a P-256 key: {e}")))?;
        let der = pair
            .to_pkcs8v1()
            .map_err(|e| ConfigError::Key(format!("cannot encode the P-256 key: {e}")))?;
        let public_jwk = public_from_der(der.as_ref(), Algorithm::ES256)
            .ok_or_else(|| ConfigError::Key("cannot read the generated key back".into()))?;
        Self::checked(
            EncodingKey::from_ec_der(der.as_ref()),
            Algorithm::ES256,
            None,
            public_jwk,
        )
    }

    /// Signs `header.claims` (both JSON objects, serialised as given) as a compact JWS with
    /// this key. The header should name this key's [`algorithm`](Self::algorithm).
    ///
    /// # Errors
    /// [`ConfigError::Key`] if the backend refuses to sign.
    pub fn sign_jws(&self, header: &Value, claims: &Value) -> Result<String, ConfigError> {
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &self.key, self.jose)
            .map_err(|e| ConfigError::Key(format!("signing failed: {e}")))?;
        Ok(format!("{message}.{signature}"))
    }

    fn checked(
        key: EncodingKey,
        alg: Algorithm,
        kid: Option<String>,
        public_jwk: Map<String, Value>,
    ) -> Result<Self, ConfigError> {
        let jose: jsonwebtoken::Algorithm = alg
            .name()
            .parse()
            .map_err(|_| ConfigError::Key(format!("{alg} is not supported for signing")))?;
        // jsonwebtoken parses keys lazily; a probe signature finds a bad key at start-up.
        jsonwebtoken::crypto::sign(b"probe", &key, jose)
            .map_err(|e| ConfigError::Key(format!("the key cannot sign with {alg}: {e}")))?;
        if mcp_auth_core::jwk_thumbprint(&public_jwk).is_none() {
            return Err(ConfigError::Key(
                "the key's public members are incomplete".into(),
            ));
        }
        Ok(Self {
            key,
            alg,
            jose,
            kid,
            public_jwk,
        })
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

enum Family {
    Rsa,
    Ec,
    Ed,
}

fn family(alg: Algorithm) -> Result<Family, ConfigError> {
    match alg {
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => Ok(Family::Rsa),
        Algorithm::ES256 | Algorithm::ES384 => Ok(Family::Ec),
        Algorithm::EdDSA => Ok(Family::Ed),
        other => Err(ConfigError::Key(format!(
            "{other:?} is not an asymmetric algorithm; private_key_jwt needs one"
        ))),
    }
}

fn parse_alg(name: &str) -> Result<Algorithm, ConfigError> {
    name.parse::<Algorithm>()
        .map_err(|_| ConfigError::Key(format!("unknown `alg` `{}`", clip(name))))
}

fn member(jwk: &Map<String, Value>, name: &'static str) -> Result<Vec<u8>, ConfigError> {
    let text = jwk
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| match name {
            "d" => ConfigError::Key("the JWK has no `d`: it is a public key".into()),
            _ => ConfigError::Key(format!("the JWK has no `{name}`")),
        })?;
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| ConfigError::Key(format!("the JWK's `{name}` is not base64url")))
}

fn rejected(what: &str, e: impl fmt::Display) -> ConfigError {
    ConfigError::Key(format!("{what} key rejected: {e}"))
}

fn rsa_pkcs8(jwk: &Map<String, Value>) -> Result<Vec<u8>, ConfigError> {
    let d = member(jwk, "d")?;
    let components = aws_lc_rs::rsa::KeyPairComponents {
        public_key: aws_lc_rs::rsa::PublicKeyComponents {
            n: strip_zeros(member(jwk, "n")?),
            e: strip_zeros(member(jwk, "e")?),
        },
        d,
        p: member(jwk, "p")?,
        q: member(jwk, "q")?,
        dP: member(jwk, "dp")?,
        dQ: member(jwk, "dq")?,
        qInv: member(jwk, "qi")?,
    };
    let pair =
        aws_lc_rs::rsa::KeyPair::from_components(&components).map_err(|e| rejected("RSA", e))?;
    let der = pair.as_der().map_err(|e| rejected("RSA", e))?;
    Ok(der.as_ref().to_vec())
}

fn ec_pkcs8(jwk: &Map<String, Value>) -> Result<(Vec<u8>, Algorithm), ConfigError> {
    let (signing, alg, len) = match jwk.get("crv").and_then(Value::as_str) {
        Some("P-256") => (&ECDSA_P256_SHA256_FIXED_SIGNING, Algorithm::ES256, 32),
        Some("P-384") => (&ECDSA_P384_SHA384_FIXED_SIGNING, Algorithm::ES384, 48),
        Some(other) => {
            return Err(ConfigError::Key(format!(
                "unsupported EC curve `{}` (P-256 or P-384)",
                clip(other)
            )));
        }
        None => return Err(ConfigError::Key("the EC JWK has no `crv`".into())),
    };
    let d = member(jwk, "d")?;
    let (x, y) = (member(jwk, "x")?, member(jwk, "y")?);
    if x.len() != len || y.len() != len || d.len() != len {
        return Err(ConfigError::Key(format!(
            "the EC JWK's `x`, `y` and `d` must be {len} bytes for its curve"
        )));
    }
    let mut point = Vec::with_capacity(1 + 2 * len);
    point.push(0x04);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    let pair = EcdsaKeyPair::from_private_key_and_public_key(signing, &d, &point)
        .map_err(|e| rejected("EC", e))?;
    let der = pair.to_pkcs8v1().map_err(|e| rejected("EC", e))?;
    Ok((der.as_ref().to_vec(), alg))
}

fn ed_pkcs8(jwk: &Map<String, Value>) -> Result<Vec<u8>, ConfigError> {
    match jwk.get("crv").and_then(Value::as_str) {
        Some("Ed25519") => {}
        other => {
            return Err(ConfigError::Key(format!(
                "unsupported OKP curve {:?} (Ed25519 only)",
                other.map(clip)
            )));
        }
    }
    let pair = Ed25519KeyPair::from_seed_and_public_key(&member(jwk, "d")?, &member(jwk, "x")?)
        .map_err(|e| rejected("Ed25519", e))?;
    let der = pair.to_pkcs8().map_err(|e| rejected("Ed25519", e))?;
    Ok(der.as_ref().to_vec())
}

/// The DER inside a PEM document (the first block).
fn pem_der(pem: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(pem).ok()?;
    let body: String = text
        .lines()
        .map(str::trim)
        .skip_while(|line| !line.starts_with("-----BEGIN "))
        .skip(1)
        .take_while(|line| !line.starts_with("-----END "))
        .collect();
    STANDARD.decode(body).ok()
}

/// The public JWK of a private key in DER (PKCS#8, or PKCS#1 / SEC 1 for RSA / EC).
fn public_from_der(der: &[u8], alg: Algorithm) -> Option<Map<String, Value>> {
    use aws_lc_rs::signature::KeyPair as _;
    let text = |s: &str| Value::String(s.to_owned());
    let b64 = |bytes: &[u8]| Value::String(URL_SAFE_NO_PAD.encode(bytes));
    let mut jwk = Map::new();
    match family(alg).ok()? {
        Family::Rsa => {
            let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(der)
                .or_else(|_| aws_lc_rs::rsa::KeyPair::from_der(der))
                .ok()?;
            let public = aws_lc_rs::rsa::PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
            jwk.insert("kty".into(), text("RSA"));
            jwk.insert("n".into(), b64(&public.n));
            jwk.insert("e".into(), b64(&public.e));
        }
        Family::Ec => {
            let (signing, crv, len) = match alg {
                Algorithm::ES384 => (&ECDSA_P384_SHA384_FIXED_SIGNING, "P-384", 48),
                _ => (&ECDSA_P256_SHA256_FIXED_SIGNING, "P-256", 32),
            };
            let pair = EcdsaKeyPair::from_pkcs8(signing, der)
                .or_else(|_| EcdsaKeyPair::from_private_key_der(signing, der))
                .ok()?;
            let point = pair.public_key().as_ref();
            if point.len() != 1 + 2 * len {
                return None;
            }
            jwk.insert("kty".into(), text("EC"));
            jwk.insert("crv".into(), text(crv));
            jwk.insert("x".into(), b64(&point[1..=len]));
            jwk.insert("y".into(), b64(&point[1 + len..]));
        }
        Family::Ed => {
            let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).ok()?;
            jwk.insert("kty".into(), text("OKP"));
            jwk.insert("crv".into(), text("Ed25519"));
            jwk.insert("x".into(), b64(pair.public_key().as_ref()));
        }
    }
    Some(jwk)
}

fn strip_zeros(mut bytes: Vec<u8>) -> Vec<u8> {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    bytes.drain(..zeros.min(bytes.len().saturating_sub(1)));
    bytes
}

fn pem_wrap(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn clip(s: &str) -> String {
    mcp_auth_core::untrusted_text(s, 40)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use aws_lc_rs::encoding::AsBigEndian as _;
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::KeyPair as _;
    use jsonwebtoken::DecodingKey;

    pub(crate) fn ec_jwk() -> (String, DecodingKey) {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let point = pair.public_key().as_ref().to_vec();
        let d = pair.private_key().as_be_bytes().unwrap();
        let (x, y) = (
            URL_SAFE_NO_PAD.encode(&point[1..33]),
            URL_SAFE_NO_PAD.encode(&point[33..]),
        );
        let jwk = serde_json::json!({
            "kty": "EC", "crv": "P-256", "x": x, "y": y, "d": URL_SAFE_NO_PAD.encode(d.as_ref()),
            "kid": "ec-1",
        });
        (
            jwk.to_string(),
            DecodingKey::from_ec_components(&x, &y).unwrap(),
        )
    }

    #[test]
    fn rsa_pem_signs_and_other_algorithms_are_refused() {
        let pair = aws_lc_rs::rsa::KeyPair::generate(KeySize::Rsa2048).unwrap();
        let pkcs8 = pair.as_der().unwrap();
        let pem = pem_wrap("PRIVATE KEY", pkcs8.as_ref());
        let key = PrivateKey::from_pem(pem.as_bytes(), Algorithm::PS256).unwrap();
        assert_eq!(key.algorithm(), Algorithm::PS256);
        assert!(PrivateKey::from_pem(pem.as_bytes(), Algorithm::ES256).is_err());
        assert!(PrivateKey::from_pem(pem.as_bytes(), Algorithm::HS256).is_err());
        assert!(PrivateKey::from_pem(b"not a pem", Algorithm::RS256).is_err());
    }

    #[test]
    fn ed25519_jwk_signs() {
        let pair = Ed25519KeyPair::generate().unwrap();
        let seed = pair.seed().unwrap();
        let seed_bytes = seed.as_be_bytes().unwrap();
        let jwk = serde_json::json!({
            "kty": "OKP", "crv": "Ed25519",
            "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
            "d": URL_SAFE_NO_PAD.encode(seed_bytes.as_ref()),
        });
        let key = PrivateKey::from_jwk(&jwk.to_string()).unwrap();
        assert_eq!(key.algorithm(), Algorithm::EdDSA);
    }

    #[test]
    fn bad_jwks_are_refused_with_a_reason() {
        let (jwk, _) = ec_jwk();
        let mut value: Value = serde_json::from_str(&jwk).unwrap();
        let public_only = {
            let mut v = value.clone();
            v.as_object_mut().unwrap().remove("d");
            v.to_string()
        };
        let err = PrivateKey::from_jwk(&public_only).unwrap_err().to_string();
        assert!(err.contains("public key"), "{err}");
        value["alg"] = "RS256".into();
        let err = PrivateKey::from_jwk(&value.to_string())
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not suit"), "{err}");
        value["alg"] = "ES256".into();
        value["use"] = "enc".into();
        assert!(PrivateKey::from_jwk(&value.to_string()).is_err());
        value["use"] = "sig".into();
        value["x"] = URL_SAFE_NO_PAD.encode([7u8; 32]).into();
        let err = PrivateKey::from_jwk(&value.to_string())
            .unwrap_err()
            .to_string();
        assert!(err.contains("rejected"), "{err}");
        assert!(PrivateKey::from_jwk("[]").is_err());
        assert!(PrivateKey::from_jwk(r#"{"kty":"XYZ"}"#).is_err());
    }
}
