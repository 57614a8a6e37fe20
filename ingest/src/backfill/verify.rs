//! Checking a repo as `getRepo` returns it, before anything from it reaches the log: every block against
//! its CID, the commit's DID and signature against the DID document's key, and the MST's structure (it
//! must load under shrike's node checks and be exactly the tree the MST rules build from its entries).

use std::collections::HashMap;

use shrike::car::SliceReader;
use shrike::cbor::json::drisl_to_json_into;
use shrike::cbor::{Cid, Codec};
use shrike::crypto::{K256VerifyingKey, VerifyingKey, parse_did_key};
use shrike::mst::{DetachedTree, MstError, NoBlocks};
use shrike::repo::Commit;
use shrike::syntax::{Nsid, RecordKey};

/// A repo that passed every check: its commit and the records of the wanted collections.
#[derive(Debug, Clone)]
pub struct VerifiedRepo {
    pub did: String,
    pub rev: String,
    pub commit_cid: String,
    /// Records of the wanted collections, in MST key order.
    pub records: Vec<VerifiedRecord>,
    /// Records in the repo, wanted or not.
    pub total_records: usize,
}

/// One record, as atproto JSON, with the CID its DAG-CBOR block hashed to.
#[derive(Debug, Clone)]
pub struct VerifiedRecord {
    pub collection: String,
    pub rkey: String,
    pub cid: String,
    pub json: String,
}

/// How a DID document publishes its `#atproto` key (mirrors `reprise_media::identity::KeyForm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyEncoding {
    /// `Multikey`: multibase of a multicodec-prefixed compressed key.
    Multikey,
    /// `EcdsaSecp256k1VerificationKey2019`: multibase of the bare compressed secp256k1 key.
    LegacySecp256k1,
}

/// The verifying key for a `publicKeyMultibase` value.
pub fn verifying_key(encoding: KeyEncoding, multibase: &str) -> Result<Box<dyn VerifyingKey>, String> {
    match encoding {
        KeyEncoding::Multikey => {
            parse_did_key(&format!("did:key:{multibase}")).map_err(|e| format!("signing key: {e}"))
        }
        KeyEncoding::LegacySecp256k1 => {
            let bytes =
                multibase.strip_prefix('z').and_then(base58_decode).ok_or("signing key: not base58btc")?;
            let bytes = compressed_secp256k1(&bytes).ok_or("signing key: not a secp256k1 public key")?;
            Ok(Box::new(K256VerifyingKey::from_bytes(&bytes).map_err(|e| format!("signing key: {e}"))?))
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

/// Whether `collection` matches one of `wanted` (NSIDs or `prefix.*`).
pub fn collection_wanted(wanted: &[String], collection: &str) -> bool {
    wanted.iter().any(|w| match w.strip_suffix(".*") {
        Some(prefix) => collection.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('.')),
        None => w == collection,
    })
}

/// Verifies the CAR `car` as `did`'s repo signed by `key`, keeping records of the `wanted` collections.
/// The error is the reason the whole repo is refused; nothing from a refused repo may be used.
pub fn verify_repo(
    car: &[u8],
    did: &str,
    key: &dyn VerifyingKey,
    wanted: &[String],
) -> Result<VerifiedRepo, String> {
    let reader = SliceReader::new(car).map_err(|e| format!("malformed CAR: {e}"))?;
    let root = match reader.roots() {
        [root] => *root,
        roots => return Err(format!("malformed CAR: {} roots, expected 1", roots.len())),
    };
    let mut blocks: HashMap<Cid, &[u8]> = HashMap::new();
    for block in reader {
        let block = block.map_err(|e| format!("malformed CAR: {e}"))?;
        if Cid::compute(block.cid.codec(), block.data) != block.cid {
            return Err(format!("block {} does not match its CID", block.cid));
        }
        blocks.insert(block.cid, block.data);
    }
    if root.codec() != Codec::Drisl {
        return Err(format!("commit {root} is not DAG-CBOR"));
    }
    let commit_bytes = blocks.get(&root).ok_or_else(|| format!("commit block {root} missing"))?;
    let commit = Commit::from_cbor(commit_bytes).map_err(|e| format!("invalid commit: {e}"))?;
    if commit.did.as_str() != did {
        return Err(format!("commit is for {}, not {did}", commit.did));
    }
    commit.verify(key).map_err(|e| format!("bad commit signature: {e}"))?;

    let mut entries: Vec<(String, Cid)> = Vec::new();
    DetachedTree::load(commit.data)
        .walk(&blocks, |k, cid| {
            entries.push((k.to_owned(), cid));
            Ok(())
        })
        .map_err(|e| match e {
            MstError::BlockNotFound(cid) => format!("broken MST: node {cid} missing"),
            e => format!("broken MST: {e}"),
        })?;
    let mut rebuilt = DetachedTree::new();
    for (k, cid) in &entries {
        rebuilt.insert(&NoBlocks, k.clone(), *cid).map_err(|e| format!("broken MST: {e}"))?;
    }
    let canonical = rebuilt.flush().map_err(|e| format!("broken MST: {e}"))?.root;
    if canonical != commit.data {
        return Err(format!(
            "broken MST: root {} is not the tree its {} entries build ({canonical})",
            commit.data,
            entries.len()
        ));
    }

    let mut records = Vec::new();
    for (path, cid) in &entries {
        let (collection, rkey) =
            path.split_once('/').ok_or_else(|| format!("MST key {path:?} is not a record path"))?;
        Nsid::try_from(collection).map_err(|e| format!("MST key {path:?}: {e}"))?;
        RecordKey::try_from(rkey).map_err(|e| format!("MST key {path:?}: {e}"))?;
        if !collection_wanted(wanted, collection) {
            continue;
        }
        let data = blocks.get(cid).ok_or_else(|| format!("record block {cid} ({path}) missing"))?;
        let mut json = Vec::with_capacity(data.len() * 2);
        drisl_to_json_into(data, &mut json)
            .map_err(|e| format!("record {path} is not valid DAG-CBOR: {e}"))?;
        let json = String::from_utf8(json).map_err(|_| format!("record {path}: JSON is not UTF-8"))?;
        records.push(VerifiedRecord {
            collection: collection.to_owned(),
            rkey: rkey.to_owned(),
            cid: cid.to_string(),
            json,
        });
    }
    Ok(VerifiedRepo {
        did: did.to_owned(),
        rev: commit.rev.to_string(),
        commit_cid: root.to_string(),
        records,
        total_records: entries.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_whole_segments() {
        let wanted = vec!["fm.plyr.*".to_owned(), "fm.teal.feed.play".to_owned()];
        assert!(collection_wanted(&wanted, "fm.plyr.track"));
        assert!(collection_wanted(&wanted, "fm.plyr.actor.profile"));
        assert!(!collection_wanted(&wanted, "fm.plyrx.track"));
        assert!(collection_wanted(&wanted, "fm.teal.feed.play"));
        assert!(!collection_wanted(&wanted, "fm.teal.feed.playlist"));
    }

    #[test]
    fn base58_round_trips_leading_zeros() {
        assert_eq!(base58_decode("1112"), Some(vec![0, 0, 0, 1]));
        assert_eq!(base58_decode("5R"), Some(vec![1, 0]));
        assert_eq!(base58_decode("0OIl"), None);
    }

    #[test]
    fn legacy_keys_parse_as_secp256k1() {
        use shrike::crypto::{K256SigningKey, SigningKey};
        let key = K256SigningKey::generate();
        let multikey = key.public_key().multibase();
        // The legacy form is the same key without the two-byte multicodec prefix.
        let bytes = base58_decode(&multikey[1..]).unwrap();
        let legacy = format!("z{}", base58_encode(&bytes[2..]));
        let parsed = verifying_key(KeyEncoding::LegacySecp256k1, &legacy).unwrap();
        assert_eq!(parsed.to_bytes(), key.public_key().to_bytes());
        assert!(verifying_key(KeyEncoding::Multikey, &multikey).is_ok());
        assert!(verifying_key(KeyEncoding::Multikey, "zzz").is_err());
    }

    /// The form the reference PLC publishes: `EcdsaSecp256k1VerificationKey2019` with an uncompressed key
    /// (this one came from `@atproto/dev-env` 0.6.7's PLC).
    #[test]
    fn legacy_keys_may_be_uncompressed() {
        const DEV_ENV_KEY: &str =
            "zRkKXXjjGoypsTo5dXYudeqcbT9qfztNdtE3WmRZvo4k9V1otKRW56z5Jd6rHnWE4FUwUvzhm3SQW4usRTx821VdM";
        let raw = base58_decode(&DEV_ENV_KEY[1..]).unwrap();
        assert_eq!((raw.len(), raw[0]), (65, 0x04));
        let parsed = verifying_key(KeyEncoding::LegacySecp256k1, DEV_ENV_KEY).unwrap();
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
            assert!(verifying_key(KeyEncoding::LegacySecp256k1, &encoded).is_err(), "{bad:?}");
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
