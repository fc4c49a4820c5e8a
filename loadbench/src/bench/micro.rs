//! First sight in process: `Verifier::verify` of a token not in its cache beside a bare
//! `jsonwebtoken::decode` of the same token, on the load generator's core while nothing else
//! runs. (The criterion bench `cargo bench -p mcp-auth-jwt --bench verify` measures the same.)

use std::time::Instant;

use jsonwebtoken::{DecodingKey, Validation};
use mcp_auth::{IssuerConfig, ResourceId, Verifier};
use mcp_auth_testing::{Algorithm, MockIssuer, alg_name};
use serde::{Deserialize, Serialize};

use super::tokens::valid_with_key;
use super::{BoxError, log};
use crate::RESOURCE;

/// One algorithm.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MicroRecord {
    /// The algorithm.
    pub algorithm: String,
    /// Distinct tokens cycled through (the verifier's cache holds 16).
    pub tokens: usize,
    /// Trials; each figure is the median over them.
    pub trials: usize,
    /// mcp-auth first-sight verification, ns per token.
    pub verify_ns: f64,
    /// `jsonwebtoken::decode` with iss/aud/exp/sub checks, ns per token.
    pub decode_ns: f64,
    /// verify ÷ decode (the target: at most 1.2).
    pub ratio: f64,
}

pub(crate) async fn run(
    rs256_issuer: &MockIssuer,
    rs256_tokens: &[String],
    per_alg: usize,
    trials: usize,
) -> Result<Vec<MicroRecord>, BoxError> {
    let others = MockIssuer::builder()
        .audience(RESOURCE)
        .key(Algorithm::ES256)
        .key(Algorithm::EdDSA)
        .start()
        .await;
    let mut out = Vec::new();
    out.push(measure(rs256_issuer, Algorithm::RS256, rs256_tokens, trials).await?);
    for alg in [Algorithm::ES256, Algorithm::EdDSA] {
        let key = others.key_for(alg).ok_or("no key")?;
        let tokens: Vec<String> = (0..per_alg)
            .map(|n| valid_with_key(&key, others.issuer(), n))
            .collect();
        out.push(measure(&others, alg, &tokens, trials).await?);
    }
    Ok(out)
}

async fn measure(
    issuer: &MockIssuer,
    alg: Algorithm,
    tokens: &[String],
    trials: usize,
) -> Result<MicroRecord, BoxError> {
    let verifier = Verifier::builder(ResourceId::parse(RESOURCE)?)
        .issuer(IssuerConfig::static_keys(issuer.issuer(), issuer.jwks()))
        .token_cache_capacity(16)
        .build()?;
    let key = issuer.key_for(alg).ok_or("no key")?;
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(key.public_jwk().clone())?;
    let decoding = DecodingKey::from_jwk(&jwk)?;
    let mut validation = Validation::new(alg.name().parse().expect("a JOSE algorithm"));
    validation.set_audience(&[RESOURCE]);
    validation.set_issuer(&[issuer.issuer()]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);

    let mut verify = Vec::new();
    let mut decode = Vec::new();
    for _ in 0..trials {
        let start = Instant::now();
        for token in tokens {
            std::hint::black_box(verifier.verify(token).await?);
        }
        verify.push(start.elapsed().as_nanos() as f64 / tokens.len() as f64);
        let start = Instant::now();
        for token in tokens {
            std::hint::black_box(jsonwebtoken::decode::<serde_json::Value>(
                token,
                &decoding,
                &validation,
            )?);
        }
        decode.push(start.elapsed().as_nanos() as f64 / tokens.len() as f64);
    }
    let verify_ns = super::median(&verify);
    let decode_ns = super::median(&decode);
    let record = MicroRecord {
        algorithm: alg_name(alg).into(),
        tokens: tokens.len(),
        trials,
        verify_ns,
        decode_ns,
        ratio: verify_ns / decode_ns,
    };
    log(&format!(
        "first sight {}: verify {:.1} µs, jsonwebtoken::decode {:.1} µs, ratio {:.3}",
        record.algorithm,
        verify_ns / 1000.0,
        decode_ns / 1000.0,
        record.ratio
    ));
    Ok(record)
}
