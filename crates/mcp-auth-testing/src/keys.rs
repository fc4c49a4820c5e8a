//! Signing keys of every algorithm the verifier accepts, generated at run time.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair,
    KeyPair as _,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::EncodingKey;
use mcp_auth_core::Algorithm;
use serde_json::{Value, json};

/// A private signing key with its public JWK.
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    alg: Algorithm,
    encoding: EncodingKey,
    public_jwk: Value,
    /// The private key, PKCS#8 DER (asymmetric keys only), for certificates over it.
    pkcs8: Option<Vec<u8>>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish()
    }
}

impl SigningKey {
    /// Generates a key for `alg` (RSA 2048 for RS*/PS*, P-256/P-384 for ES*, Ed25519 for EdDSA;
    /// HMAC algorithms get a random 32-byte secret).
    ///
    /// # Panics
    /// If the platform's random generator fails, or for an algorithm jsonwebtoken added later.
    pub fn generate(alg: Algorithm, kid: impl Into<String>) -> Self {
        let kid = kid.into();
        let mut pkcs8_der = None;
        let (encoding, mut jwk) = match alg {
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => {
                let pair = aws_lc_rs::rsa::KeyPair::generate(KeySize::Rsa2048).expect("rsa keygen");
                let pkcs8 = pair.as_der().expect("pkcs8");
                pkcs8_der = Some(pkcs8.as_ref().to_vec());
                let pem = pem_wrap("PRIVATE KEY", pkcs8.as_ref());
                let public = pair.public_key();
                let jwk = json!({
                    "kty": "RSA",
                    "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
                    "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
                });
                (
                    EncodingKey::from_rsa_pem(pem.as_bytes()).expect("rsa pem"),
                    jwk,
                )
            }
            Algorithm::ES256 | Algorithm::ES384 => {
                let (signing, crv, len) = if alg == Algorithm::ES256 {
                    (&ECDSA_P256_SHA256_FIXED_SIGNING, "P-256", 32)
                } else {
                    (&ECDSA_P384_SHA384_FIXED_SIGNING, "P-384", 48)
                };
                let pair = EcdsaKeyPair::generate(signing).expect("ec keygen");
                let pkcs8 = pair.to_pkcs8v1().expect("pkcs8");
                pkcs8_der = Some(pkcs8.as_ref().to_vec());
                let point = pair.public_key().as_ref().to_vec(); // 0x04 || x || y
                let jwk = json!({
                    "kty": "EC",
                    "crv": crv,
                    "x": URL_SAFE_NO_PAD.encode(&point[1..1 + len]),
                    "y": URL_SAFE_NO_PAD.encode(&point[1 + len..]),
                });
                (EncodingKey::from_ec_der(pkcs8.as_ref()), jwk)
            }
            Algorithm::EdDSA => {
                let pair = Ed25519KeyPair::generate().expect("ed25519 keygen");
                let pkcs8 = pair.to_pkcs8().expect("pkcs8");
                pkcs8_der = Some(pkcs8.as_ref().to_vec());
                let jwk = json!({
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
                });
                (EncodingKey::from_ed_der(pkcs8.as_ref()), jwk)
            }
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
                let secret: [u8; 32] = random_bytes();
                let jwk = json!({ "kty": "oct", "k": URL_SAFE_NO_PAD.encode(secret) });
                (EncodingKey::from_secret(&secret), jwk)
            }
            other => panic!("no key generator for {other:?}"),
        };
        let object = jwk.as_object_mut().expect("object");
        object.insert("kid".into(), kid.clone().into());
        object.insert("alg".into(), alg_name(alg).into());
        object.insert("use".into(), "sig".into());
        Self {
            kid,
            alg,
            encoding,
            public_jwk: jwk,
            pkcs8: pkcs8_der,
        }
    }

    /// A self-signed X.509 certificate over this key (DER, standard base64), as a token's
    /// `x5c` header would carry it: for tests that embedded certificates are never trusted.
    /// `None` for HMAC keys, and for RSA-PSS and ES384 keys (which the certificate library
    /// here does not sign with).
    pub fn self_signed_certificate(&self) -> Option<String> {
        use base64::engine::general_purpose::STANDARD;
        let pkcs8 = self.pkcs8.as_ref()?;
        let algorithm = match self.alg {
            Algorithm::RS256 => &rcgen::PKCS_RSA_SHA256,
            Algorithm::ES256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            Algorithm::EdDSA => &rcgen::PKCS_ED25519,
            _ => return None,
        };
        let der = rustls::pki_types::PrivatePkcs8KeyDer::from(pkcs8.clone());
        let key = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&der, algorithm).ok()?;
        let params = rcgen::CertificateParams::new(vec!["attacker.example".to_owned()]).ok()?;
        let certificate = params.self_signed(&key).ok()?;
        Some(STANDARD.encode(certificate.der()))
    }

    /// The RFC 7638 thumbprint of the public key: what a token bound to this key (DPoP) carries
    /// as `cnf.jkt`. `None` for HMAC keys.
    pub fn thumbprint(&self) -> Option<String> {
        mcp_auth_core::jwk_thumbprint(self.public_jwk.as_object()?)
    }

    /// A DPoP proof (RFC 9449 §4.2) by this key for `method` and `url`, bound to `access_token`
    /// (`ath`), made now with a fresh `jti`: typed `dpop+jwt`, the public key in `jwk`. Adjust
    /// any header or claim before signing to make a wrong one.
    ///
    /// ```
    /// use mcp_auth_testing::{Algorithm, SigningKey};
    ///
    /// let key = SigningKey::generate(Algorithm::ES256, "client");
    /// let proof = key.dpop_proof("POST", "https://mcp.example.com/mcp", "the-token").sign();
    /// assert_eq!(proof.split('.').count(), 3);
    /// assert!(key.thumbprint().is_some());
    /// ```
    pub fn dpop_proof(&self, method: &str, url: &str, access_token: &str) -> crate::TokenBuilder {
        use base64::Engine as _;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let ath = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, access_token.as_bytes());
        crate::TokenBuilder::new(self)
            .typ(Some("dpop+jwt"))
            .kid(None)
            .header("jwk", self.public_jwk.clone())
            .claim("jti", URL_SAFE_NO_PAD.encode(random_bytes::<12>()))
            .claim("htm", method)
            .claim("htu", url)
            .claim("iat", crate::now())
            .claim("ath", URL_SAFE_NO_PAD.encode(ath.as_ref()))
    }

    /// An HMAC key from a shared secret.
    pub fn hmac(alg: Algorithm, kid: impl Into<String>, secret: &[u8]) -> Self {
        let kid = kid.into();
        let jwk = json!({
            "kty": "oct", "k": URL_SAFE_NO_PAD.encode(secret), "kid": kid, "alg": alg_name(alg),
        });
        Self {
            kid,
            alg,
            pkcs8: None,
            encoding: EncodingKey::from_secret(secret),
            public_jwk: jwk,
        }
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The public JWK (for HMAC keys, the secret itself: never publish those).
    pub fn public_jwk(&self) -> &Value {
        &self.public_jwk
    }

    /// Signs `message` (the `header.claims` part of a JWT) and returns the base64url signature.
    ///
    /// # Panics
    /// If signing fails, which only a corrupt key could cause.
    pub fn sign(&self, message: &[u8]) -> String {
        jsonwebtoken::crypto::sign(message, &self.encoding, jose(self.alg)).expect("sign")
    }
}

/// The JOSE name of an algorithm.
pub fn alg_name(alg: Algorithm) -> &'static str {
    alg.name()
}

/// The signature library's name for `alg`.
pub(crate) fn jose(alg: Algorithm) -> jsonwebtoken::Algorithm {
    alg.name()
        .parse()
        .expect("an algorithm the signature library implements")
}

pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    aws_lc_rs::rand::fill(&mut out).expect("random");
    out
}

fn pem_wrap(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("ascii"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
