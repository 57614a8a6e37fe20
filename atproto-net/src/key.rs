//! Public keys as DID documents publish them (`publicKeyMultibase` of a verification method), turned into
//! keys that verify signatures: repo commits against `#atproto`, and labels against `#atproto_label`.

use shrike::crypto::{K256VerifyingKey, VerifyingKey, parse_did_key};

/// How a verification method publishes its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyForm {
    /// `Multikey`: multibase of a multicodec-prefixed compressed key.
    Multikey,
    /// The older `EcdsaSecp256k1VerificationKey2019`: multibase of the bare secp256k1 key, compressed or
    /// not.
    LegacySecp256k1,
}

impl KeyForm {
    /// The form a verification method's `type` names, if reprise can verify with it.
    pub fn from_method_type(kind: &str) -> Option<Self> {
        match kind {
            "Multikey" => Some(Self::Multikey),
            "EcdsaSecp256k1VerificationKey2019" => Some(Self::LegacySecp256k1),
            _ => None,
        }
    }
}

/// A public key as published: its form and its `publicKeyMultibase` (base58btc, starting with `z`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub form: KeyForm,
    pub multibase: String,
}

/// Why a published key cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("signing key: {0}")]
    Invalid(String),
    #[error("signing key: not base58btc")]
    NotBase58,
    #[error("signing key: not a secp256k1 public key")]
    NotSecp256k1,
}

impl PublicKey {
    /// A `Multikey` (what `did:key` carries after its prefix).
    pub fn multikey(multibase: impl Into<String>) -> Self {
        Self { form: KeyForm::Multikey, multibase: multibase.into() }
    }

    /// The key that verifies signatures made with its private half.
    pub fn verifying_key(&self) -> Result<Box<dyn VerifyingKey>, KeyError> {
        match self.form {
            KeyForm::Multikey => parse_did_key(&format!("did:key:{}", self.multibase))
                .map_err(|e| KeyError::Invalid(e.to_string())),
            KeyForm::LegacySecp256k1 => {
                let bytes =
                    self.multibase.strip_prefix('z').and_then(base58_decode).ok_or(KeyError::NotBase58)?;
                let bytes = compressed_secp256k1(&bytes).ok_or(KeyError::NotSecp256k1)?;
                let key =
                    K256VerifyingKey::from_bytes(&bytes).map_err(|e| KeyError::Invalid(e.to_string()))?;
                Ok(Box::new(key))
            }
        }
    }
}

/// A SEC1 secp256k1 key in compressed form. The legacy key type comes either way: the reference PLC
/// (`@atproto/dev-env`) publishes it uncompressed (`04 || X || Y`), which is X with Y's parity. The point
/// itself is checked when the compressed key is parsed.
fn compressed_secp256k1(sec1: &[u8]) -> Option<[u8; 33]> {
    match sec1 {
        [0x02 | 0x03, ..] if sec1.len() == 33 => sec1.try_into().ok(),
        [0x04, xy @ ..] if xy.len() == 64 => {
            let mut out = [0u8; 33];
            out[0] = 0x02 | (xy[63] & 1);
            out[1..].copy_from_slice(&xy[..32]);
            Some(out)
        }
        _ => None,
    }
}

/// Base58 (bitcoin alphabet), for the one key form shrike does not parse itself.
fn base58_decode(s: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let mut out: Vec<u8> = Vec::new(); // little-endian base-256 digits
    for c in s.bytes() {
        let mut carry = ALPHABET.iter().position(|&a| a == c)? as u32;
        for digit in out.iter_mut() {
            carry += u32::from(*digit) * 58;
            *digit = carry as u8;
            carry >>= 8;
        }
        while carry > 0 {
            out.push(carry as u8);
            carry >>= 8;
        }
    }
    out.extend(s.bytes().take_while(|&c| c == b'1').map(|_| 0));
    out.reverse();
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn legacy(multibase: String) -> PublicKey {
        PublicKey { form: KeyForm::LegacySecp256k1, multibase }
    }

    #[test]
    fn base58_round_trips_leading_zeros() {
        assert_eq!(base58_decode("1112"), Some(vec![0, 0, 0, 1]));
        assert_eq!(base58_decode("5R"), Some(vec![1, 0]));
        assert_eq!(base58_decode("0OIl"), None);
    }

    #[test]
    fn method_types_name_their_forms() {
        assert_eq!(KeyForm::from_method_type("Multikey"), Some(KeyForm::Multikey));
        assert_eq!(
            KeyForm::from_method_type("EcdsaSecp256k1VerificationKey2019"),
            Some(KeyForm::LegacySecp256k1)
        );
        assert_eq!(KeyForm::from_method_type("JsonWebKey2020"), None);
    }

    #[test]
    fn legacy_keys_parse_as_secp256k1() {
        use shrike::crypto::{K256SigningKey, SigningKey};
        let key = K256SigningKey::generate();
        let multikey = key.public_key().multibase();
        // The legacy form is the same key without the two-byte multicodec prefix.
        let bytes = base58_decode(&multikey[1..]).unwrap();
        let parsed = legacy(format!("z{}", base58_encode(&bytes[2..]))).verifying_key().unwrap();
        assert_eq!(parsed.to_bytes(), key.public_key().to_bytes());
        assert!(PublicKey::multikey(multikey).verifying_key().is_ok());
        assert!(matches!(PublicKey::multikey("zzz").verifying_key(), Err(KeyError::Invalid(_))));
        assert_eq!(legacy("z0OIl".into()).verifying_key().err(), Some(KeyError::NotBase58));
    }

    /// The form the reference PLC publishes: `EcdsaSecp256k1VerificationKey2019` with an uncompressed key
    /// (this one came from `@atproto/dev-env` 0.6.7's PLC).
    #[test]
    fn legacy_keys_may_be_uncompressed() {
        const DEV_ENV_KEY: &str =
            "zRkKXXjjGoypsTo5dXYudeqcbT9qfztNdtE3WmRZvo4k9V1otKRW56z5Jd6rHnWE4FUwUvzhm3SQW4usRTx821VdM";
        let raw = base58_decode(&DEV_ENV_KEY[1..]).unwrap();
        assert_eq!((raw.len(), raw[0]), (65, 0x04));
        let parsed = legacy(DEV_ENV_KEY.into()).verifying_key().unwrap();
        let compressed = parsed.to_bytes();
        assert_eq!(compressed[1..33], raw[1..33]);
        assert_eq!(compressed[0], 0x02 | (raw[64] & 1));

        // A bad prefix, a short key or an X beyond the field is refused.
        let mut wrong_prefix = raw.clone();
        wrong_prefix[0] = 0x05;
        let mut beyond_field = [0xff; 33];
        beyond_field[0] = 0x02;
        for bad in [&wrong_prefix[..], &raw[..64], &beyond_field[..]] {
            let encoded = format!("z{}", base58_encode(bad));
            assert!(legacy(encoded).verifying_key().is_err(), "{bad:?}");
        }
    }

    fn base58_encode(bytes: &[u8]) -> String {
        const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
        let mut digits: Vec<u8> = Vec::new();
        for &b in bytes {
            let mut carry = u32::from(b);
            for d in digits.iter_mut() {
                carry += u32::from(*d) << 8;
                *d = (carry % 58) as u8;
                carry /= 58;
            }
            while carry > 0 {
                digits.push((carry % 58) as u8);
                carry /= 58;
            }
        }
        let zeros = bytes.iter().take_while(|&&b| b == 0).count();
        std::iter::repeat_n('1', zeros)
            .chain(digits.iter().rev().map(|&d| ALPHABET[d as usize] as char))
            .collect()
    }
}
