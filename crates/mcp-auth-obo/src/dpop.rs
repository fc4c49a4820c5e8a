//! This server's own DPoP proofs (RFC 9449 §4.2): for token requests at an authorization
//! server that binds exchanged tokens to a key, and for calls that present such a token.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::HeaderValue;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::error::ConfigError;
use crate::key::PrivateKey;

/// A proof that `key`'s holder sends `method` to `url`: `htu` is the URL without query and
/// fragment (§4.2), `ath` the hash of `access_token` when one is presented (§4.2, §7.1), and
/// `nonce` the server's when it demanded one (§8, §9). Each proof has a fresh random `jti`.
pub(crate) fn proof(
    key: &PrivateKey,
    method: &str,
    url: &str,
    access_token: Option<&str>,
    nonce: Option<&str>,
    now: SystemTime,
) -> Result<HeaderValue, ConfigError> {
    let mut htu = url::Url::parse(url)
        .map_err(|e| ConfigError::Key(format!("a DPoP proof needs an absolute URL: {e}")))?;
    htu.set_query(None);
    htu.set_fragment(None);
    let mut jti = [0u8; 18];
    aws_lc_rs::rand::fill(&mut jti)
        .map_err(|_| ConfigError::Key("no randomness for a DPoP proof's jti".into()))?;
    let iat = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut claims = json!({
        "jti": URL_SAFE_NO_PAD.encode(jti),
        "htm": method,
        "htu": htu.as_str(),
        "iat": iat,
    });
    if let Some(token) = access_token {
        claims["ath"] = URL_SAFE_NO_PAD
            .encode(Sha256::digest(token.as_bytes()))
            .into();
    }
    if let Some(nonce) = nonce {
        claims["nonce"] = nonce.into();
    }
    let header = json!({
        "typ": "dpop+jwt",
        "alg": key.alg.name(),
        "jwk": Value::Object(key.public_jwk.clone()),
    });
    let jws = key.sign_jws(&header, &claims)?;
    let mut value = HeaderValue::try_from(jws)
        .map_err(|_| ConfigError::Key("a DPoP proof is not a valid header value".into()))?;
    // A proof is bound to one token and one request, but it is still not for the logs.
    value.set_sensitive(true);
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::Validation;
    use std::time::Duration;

    #[test]
    fn a_proof_names_the_request_the_key_and_the_token() {
        let (jwk, public) = crate::key::tests::ec_jwk();
        let key = PrivateKey::from_jwk(&jwk).unwrap();
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let proof = proof(
            &key,
            "GET",
            "https://api.example/v1/orders?page=2#top",
            Some("the-token"),
            Some("n-1"),
            now,
        )
        .unwrap();
        assert!(proof.is_sensitive());
        let text = proof.to_str().unwrap();
        let header = jsonwebtoken::decode_header(text).unwrap();
        assert_eq!(header.typ.as_deref(), Some("dpop+jwt"));
        let jwk = serde_json::to_value(header.jwk.unwrap()).unwrap();
        assert!(jwk.get("d").is_none(), "no private member in the proof");
        assert_eq!(
            mcp_auth_core::jwk_thumbprint(jwk.as_object().unwrap()).unwrap(),
            key.thumbprint()
        );
        let mut validation = Validation::new(jsonwebtoken::Algorithm::ES256);
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        let claims: Value = jsonwebtoken::decode(text, &public, &validation)
            .unwrap()
            .claims;
        assert_eq!(claims["htm"], "GET");
        assert_eq!(claims["htu"], "https://api.example/v1/orders");
        assert_eq!(claims["iat"], 1_800_000_000);
        assert_eq!(claims["nonce"], "n-1");
        assert_eq!(
            claims["ath"],
            URL_SAFE_NO_PAD.encode(Sha256::digest(b"the-token"))
        );
        // Every proof is new.
        let again = super::proof(&key, "GET", "https://api.example/", None, None, now).unwrap();
        let jti = |p: &HeaderValue| {
            let claims: Value = jsonwebtoken::decode(p.to_str().unwrap(), &public, &validation)
                .unwrap()
                .claims;
            claims["jti"].clone()
        };
        assert_ne!(jti(&proof), jti(&again));
        assert!(
            jsonwebtoken::decode::<Value>(again.to_str().unwrap(), &public, &validation)
                .unwrap()
                .claims
                .get("ath")
                .is_none()
        );
    }

    #[test]
    fn a_relative_url_is_refused() {
        let (jwk, _) = crate::key::tests::ec_jwk();
        let key = PrivateKey::from_jwk(&jwk).unwrap();
        assert!(proof(&key, "GET", "/v1/orders", None, None, SystemTime::now()).is_err());
    }
}
