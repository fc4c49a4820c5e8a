//! Server-provided DPoP nonces (RFC 9449 §8), stateless: a nonce is the time it was made and a
//! MAC over it, so any replica holding the same secret accepts it and none stores anything.

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The key nonces are made and checked with.
pub(crate) struct NonceKey(hmac::Key);

const MAC_BYTES: usize = 16;

impl NonceKey {
    /// A key from a shared secret (replicas that share it accept each other's nonces).
    pub(crate) fn from_secret(secret: &[u8]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }

    /// A random key, for one process.
    pub(crate) fn random() -> Self {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &rng).expect("system random generator");
        Self(key)
    }

    /// A nonce made at `now` (seconds since the Unix epoch).
    pub(crate) fn issue(&self, now: u64) -> String {
        let stamp = now.to_be_bytes();
        let tag = hmac::sign(&self.0, &stamp);
        let mut bytes = stamp.to_vec();
        bytes.extend_from_slice(&tag.as_ref()[..MAC_BYTES]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// True when `nonce` was made with this key no more than `lifetime` seconds before `now`,
    /// and no more than `skew` seconds after it (replicas' clocks differ a little).
    pub(crate) fn accepts(&self, nonce: &str, now: u64, lifetime: u64, skew: u64) -> bool {
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(nonce) else {
            return false;
        };
        if bytes.len() != 8 + MAC_BYTES {
            return false;
        }
        let (stamp, mac) = bytes.split_at(8);
        let expected = hmac::sign(&self.0, stamp);
        // Constant time: the MAC is a secret until it matches.
        if aws_lc_rs::constant_time::verify_slices_are_equal(&expected.as_ref()[..MAC_BYTES], mac)
            .is_err()
        {
            return false;
        }
        let made = u64::from_be_bytes(stamp.try_into().expect("8 bytes"));
        made <= now.saturating_add(skew) && now.saturating_sub(made) <= lifetime
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_holds_for_its_lifetime_under_its_key_only() {
        let key = NonceKey::from_secret(b"replicas share this secret");
        let nonce = key.issue(1_000);
        assert!(key.accepts(&nonce, 1_000, 300, 5));
        assert!(key.accepts(&nonce, 1_300, 300, 5));
        assert!(!key.accepts(&nonce, 1_301, 300, 5), "expired");
        assert!(
            key.accepts(&nonce, 996, 300, 5),
            "a replica a little behind"
        );
        assert!(!key.accepts(&nonce, 994, 300, 5), "from the future");
        // Another replica with the same secret accepts it; another secret does not.
        assert!(
            NonceKey::from_secret(b"replicas share this secret").accepts(&nonce, 1_100, 300, 5)
        );
        assert!(!NonceKey::random().accepts(&nonce, 1_100, 300, 5));
        // Tampering with the time is caught.
        let mut bytes = URL_SAFE_NO_PAD.decode(&nonce).unwrap();
        bytes[7] ^= 1;
        assert!(!key.accepts(&URL_SAFE_NO_PAD.encode(bytes), 1_000, 300, 5));
        assert!(!key.accepts("not a nonce", 1_000, 300, 5));
    }
}
