//! Authenticated encryption of secrets this server hands to others to keep (a shared store, a
//! client that echoes state back): AES-256-GCM, with key ids so keys can be rotated.

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use base64::engine::general_purpose::STANDARD;

use crate::ConfigError;

/// Keys that encrypt what this server hands to others to keep: one current key that seals, and
/// older ones that still open what they sealed until it expires (rotation). Each sealed value
/// is bound to a context (the name it is stored under, what it is for), so a value moved to
/// another context (another user's entry) does not open.
///
/// ```
/// use mcp_auth_obo::SecretKeys;
///
/// let keys = SecretKeys::new("2026-11", &[7u8; 32]).unwrap()
///     .previous("2026-10", &[9u8; 32]).unwrap();
/// assert!(SecretKeys::new("short", &[0u8; 16]).is_err());
/// # let _ = keys;
/// ```
#[derive(Clone)]
pub struct SecretKeys {
    current: (String, KeyBytes),
    previous: Vec<(String, KeyBytes)>,
}

#[derive(Clone)]
struct KeyBytes([u8; 32]);

impl SecretKeys {
    /// The key that seals, named `id` (letters, digits, `-`, `_`; it is stored beside each
    /// value): exactly 32 random bytes.
    ///
    /// # Errors
    /// A key that is not 32 bytes, or an id that is empty or has other characters.
    pub fn new(id: &str, key: &[u8]) -> Result<Self, ConfigError> {
        Ok(Self {
            current: (checked_id(id)?, checked_key(key)?),
            previous: Vec::new(),
        })
    }

    /// An older key that still opens values sealed with it.
    ///
    /// # Errors
    /// As [`SecretKeys::new`], and an id already in use.
    pub fn previous(mut self, id: &str, key: &[u8]) -> Result<Self, ConfigError> {
        let id = checked_id(id)?;
        if id == self.current.0 || self.previous.iter().any(|(p, _)| *p == id) {
            return Err(ConfigError::Key(format!("the key id `{id}` is used twice")));
        }
        self.previous.push((id, checked_key(key)?));
        Ok(self)
    }

    /// Reads `id=KEY,id=KEY…` (KEY: 32 bytes in base64 or base64url); the first seals.
    ///
    /// # Errors
    /// An empty list, a pair without `=`, a key that does not decode to 32 bytes.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let mut keys: Option<Self> = None;
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (id, encoded) = pair
                .split_once('=')
                .ok_or_else(|| ConfigError::Key("each key is written `id=base64`".into()))?;
            let bytes = STANDARD
                .decode(encoded)
                .or_else(|_| URL_SAFE_NO_PAD.decode(encoded.trim_end_matches('=')))
                .map_err(|_| ConfigError::Key(format!("key `{id}` is not base64")))?;
            keys = Some(match keys {
                None => Self::new(id, &bytes)?,
                Some(keys) => keys.previous(id, &bytes)?,
            });
        }
        keys.ok_or_else(|| ConfigError::Key("no key given".into()))
    }

    /// `<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`, bound to `context`; `None` only if
    /// the system's random source fails.
    pub fn seal(&self, plaintext: &[u8], context: &str) -> Option<String> {
        let (id, key) = &self.current;
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).ok()?;
        let sealing = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key.0).ok()?);
        let mut sealed = plaintext.to_vec();
        sealing
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut sealed,
            )
            .ok()?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Some(format!("{id}.{}", URL_SAFE_NO_PAD.encode(out)))
    }

    /// The plaintext of a sealed value, when one of the keys opens it for `context`; `None` for
    /// anything else (tampered, another context, a key id no longer known, not a sealed value).
    pub fn open(&self, sealed: &str, context: &str) -> Option<Vec<u8>> {
        let (id, data) = sealed.split_once('.')?;
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|(k, _)| k == id)
            .map(|(_, key)| key)?;
        let mut data = URL_SAFE_NO_PAD.decode(data).ok()?;
        if data.len() < NONCE_LEN {
            return None;
        }
        let mut ciphertext = data.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&data).ok()?;
        let opening = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key.0).ok()?);
        let plaintext = opening
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut ciphertext)
            .ok()?;
        Some(plaintext.to_vec())
    }
}

impl fmt::Debug for SecretKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let previous: Vec<&str> = self.previous.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("SecretKeys")
            .field("current", &self.current.0)
            .field("previous", &previous)
            .finish()
    }
}

fn checked_id(id: &str) -> Result<String, ConfigError> {
    if id.is_empty()
        || id.len() > 64
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(ConfigError::Key(
            "a key id is 1 to 64 letters, digits, `-` or `_`".into(),
        ));
    }
    Ok(id.to_owned())
}

fn checked_key(key: &[u8]) -> Result<KeyBytes, ConfigError> {
    let bytes: [u8; 32] = key.try_into().map_err(|_| {
        ConfigError::Key(format!(
            "an AES-256-GCM key is 32 bytes, this one is {}",
            key.len()
        ))
    })?;
    Ok(KeyBytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_context() {
        let keys = SecretKeys::new("k1", &[1; 32]).unwrap();
        let sealed = keys.seal(b"the token", "mcp-auth:obo:aa").unwrap();
        assert!(!sealed.contains("the token"));
        assert_eq!(keys.open(&sealed, "mcp-auth:obo:aa").unwrap(), b"the token");
        // Another key, moved under another entry, tampered, or a key id nobody knows: closed.
        assert!(keys.open(&sealed, "mcp-auth:obo:bb").is_none());
        let other = SecretKeys::new("k1", &[2; 32]).unwrap();
        assert!(other.open(&sealed, "mcp-auth:obo:aa").is_none());
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert!(
            keys.open(std::str::from_utf8(&tampered).unwrap(), "mcp-auth:obo:aa")
                .is_none()
        );
        assert!(keys.open("k9.AAAA", "mcp-auth:obo:aa").is_none());
        assert!(keys.open("garbage", "mcp-auth:obo:aa").is_none());
        // Two seals of the same value differ (fresh nonces).
        assert_ne!(sealed, keys.seal(b"the token", "mcp-auth:obo:aa").unwrap());
    }

    #[test]
    fn keys_parse_from_text_and_bad_ones_are_named() {
        let k1 = STANDARD.encode([1u8; 32]);
        let k2 = URL_SAFE_NO_PAD.encode([2u8; 32]);
        let keys = SecretKeys::parse(&format!("new={k1}, old={k2}")).unwrap();
        assert_eq!(
            format!("{keys:?}"),
            r#"SecretKeys { current: "new", previous: ["old"] }"#
        );
        for bad in [
            "",
            "no-equals",
            "k=!!!",
            &format!("k={}", STANDARD.encode([0u8; 16])),
        ] {
            assert!(SecretKeys::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rotation_keeps_old_values_readable() {
        let old = SecretKeys::new("old", &[1; 32]).unwrap();
        let sealed = old.seal(b"v", "c").unwrap();
        let rotated = SecretKeys::new("new", &[2; 32])
            .unwrap()
            .previous("old", &[1; 32])
            .unwrap();
        assert_eq!(rotated.open(&sealed, "c").unwrap(), b"v");
        assert!(rotated.seal(b"v", "c").unwrap().starts_with("new."));
        assert!(rotated.clone().previous("new", &[3; 32]).is_err());
        assert!(SecretKeys::new("bad id", &[1; 32]).is_err());
        assert!(!format!("{rotated:?}").contains("1, 1"));
    }
}
