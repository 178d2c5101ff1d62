//! API key secrets: how a key is made and how a presented key is recognised. The keys file
//! holds only each key's SHA-256 digest: a key has 256 random bits, so a fast hash is as safe
//! as a slow password hash here, and costs a few hundred nanoseconds per request.

use std::fmt;

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

use crate::event::lower_hex;

/// Every key starts with it, so that a leaked key is recognisable by secret scanners.
pub const KEY_PREFIX: &str = "agg_";
/// Random bytes in a key.
const KEY_BYTES: usize = 32;
/// How a digest is written in the keys file: `sha256:` and 64 lowercase hex digits.
const DIGEST_PREFIX: &str = "sha256:";

/// A new random key (`agg_` and 64 hex digits) and its digest. The key is shown once and
/// never stored.
pub fn generate_key() -> (String, KeyDigest) {
    let mut bytes = [0_u8; KEY_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let key = format!("{KEY_PREFIX}{}", lower_hex(&bytes));
    let digest = KeyDigest::of(&key);
    (key, digest)
}

/// The SHA-256 digest of a key. Compared in constant time only; it has no `PartialEq`, so that
/// an early-exit comparison cannot be written by accident.
#[derive(Clone, Copy)]
pub struct KeyDigest([u8; 32]);

impl KeyDigest {
    /// The digest of `key` as presented by a client.
    pub fn of(key: &str) -> Self {
        Self(Sha256::digest(key.as_bytes()).into())
    }

    /// Reads `sha256:<64 hex digits>`, as written in the keys file.
    pub fn parse(text: &str) -> Result<Self, String> {
        let invalid = || format!("expected {DIGEST_PREFIX} and 64 hex digits");
        let digits = text.strip_prefix(DIGEST_PREFIX).ok_or_else(invalid)?;
        if digits.len() != 64 || !digits.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return Err(invalid());
        }
        let mut bytes = [0_u8; 32];
        for (at, byte) in bytes.iter_mut().enumerate() {
            let pair = digits.get(at * 2..at * 2 + 2).ok_or_else(invalid)?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| invalid())?;
        }
        Ok(Self(bytes))
    }

    /// Whether two digests are equal, in time independent of where they differ.
    pub fn ct_eq(&self, other: &KeyDigest) -> Choice {
        self.0.ct_eq(&other.0)
    }
}

impl fmt::Display for KeyDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{DIGEST_PREFIX}{}", lower_hex(&self.0))
    }
}

impl fmt::Debug for KeyDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyDigest({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_matches_its_digest_and_no_other_key_does() {
        let (key, digest) = generate_key();
        assert!(key.starts_with(KEY_PREFIX) && key.len() == KEY_PREFIX.len() + 64);
        assert!(bool::from(KeyDigest::of(&key).ct_eq(&digest)));
        let (other, _) = generate_key();
        assert!(!bool::from(KeyDigest::of(&other).ct_eq(&digest)));
    }

    #[test]
    fn a_digest_round_trips_through_its_text_and_bad_text_is_refused() {
        let digest = KeyDigest::of("agg_example");
        let parsed = KeyDigest::parse(&digest.to_string()).unwrap();
        assert!(bool::from(parsed.ct_eq(&digest)));
        for bad in [
            "",
            "sha256:",
            "md5:00",
            &format!("sha256:{}", "g".repeat(64)),
        ] {
            assert!(KeyDigest::parse(bad).is_err(), "{bad}");
        }
    }
}
