//! Values on the wire: [`SecretBytes`].

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::{Zeroize, Zeroizing};

/// Bytes that may be a secret value: wiped when dropped, shown as nothing.
///
/// On the wire it is a string of hexadecimal digits, so that any byte
/// sequence survives JSON; the hex text is built and parsed in wiped
/// buffers too.
///
/// ```
/// use claulock_proto::SecretBytes;
/// let v = SecretBytes::new(b"hunter2".to_vec());
/// assert_eq!(format!("{v:?}"), "SecretBytes(..)");
/// let json = serde_json::to_string(&v).unwrap();
/// assert_eq!(json, "\"68756e74657232\"");
/// let back: SecretBytes = serde_json::from_str(&json).unwrap();
/// assert_eq!(back.expose(), b"hunter2");
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    /// Takes ownership of `bytes` (they are wiped when this is dropped).
    pub fn new(bytes: Vec<u8>) -> Self {
        SecretBytes(Zeroizing::new(bytes))
    }

    /// The bytes. Every caller is a place where a value exists in clear:
    /// keep it short-lived.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// How many bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<&[u8]> for SecretBytes {
    fn from(bytes: &[u8]) -> Self {
        SecretBytes::new(bytes.to_vec())
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBytes(..)")
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl Serialize for SecretBytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut text = Zeroizing::new(String::with_capacity(self.0.len() * 2));
        for b in self.0.iter() {
            text.push(char::from(HEX[usize::from(b >> 4)]));
            text.push(char::from(HEX[usize::from(b & 15)]));
        }
        serializer.serialize_str(&text)
    }
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn from_hex(text: &str) -> Option<SecretBytes> {
    let t = text.as_bytes();
    if t.len() % 2 != 0 {
        return None;
    }
    let mut out = Zeroizing::new(Vec::with_capacity(t.len() / 2));
    for pair in t.chunks_exact(2) {
        out.push(nibble(pair[0])? << 4 | nibble(pair[1])?);
    }
    Some(SecretBytes(out))
}

struct HexVisitor;

impl Visitor<'_> for HexVisitor {
    type Value = SecretBytes;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string of hexadecimal digits")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<SecretBytes, E> {
        // The message names no part of the text: it may be a value.
        from_hex(v).ok_or_else(|| E::custom("malformed value (not hexadecimal)"))
    }

    fn visit_string<E: de::Error>(self, mut v: String) -> Result<SecretBytes, E> {
        let parsed = self.visit_str(&v);
        v.zeroize();
        parsed
    }
}

impl<'de> Deserialize<'de> for SecretBytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(HexVisitor)
    }
}

/// The largest value a secret may hold: 64 KiB. PEM keys (a 4096-bit RSA
/// key is about 3.3 KiB) and JSON service-account files (about 2.4 KiB)
/// fit many times over. The limit is for the scrubber: every value becomes
/// some twenty patterns several times its length, searched in every
/// byte every command prints and in every hook's input, which must be
/// answered in milliseconds; one huge value would make every hook miss
/// its deadline (and fail closed).
pub const MAX_VALUE_LEN: usize = 64 << 10;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_round_trips_and_bad_hex_says_nothing_of_it() {
        let all: Vec<u8> = (0..=255).collect();
        let json = serde_json::to_string(&SecretBytes::new(all.clone())).unwrap();
        let back: SecretBytes = serde_json::from_str(&json).unwrap();
        assert_eq!(back.expose(), &all[..]);
        for bad in ["\"abc\"", "\"zz\"", "12"] {
            let e = serde_json::from_str::<SecretBytes>(bad).unwrap_err();
            assert!(!e.to_string().contains("zz"), "{e}");
        }
    }
}
