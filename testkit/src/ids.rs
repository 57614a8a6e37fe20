//! Identifiers in their real syntax: DIDs, TIDs and CIDs.

/// splitmix64: small, fast, and good enough to make realistic fixtures reproducible.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const B32_SORTABLE: &[u8] = b"234567abcdefghijklmnopqrstuvwxyz";
const B32: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";

/// A TID (13 sortable base32 chars) for a timestamp and clock id, as repo revs and record keys use.
pub fn tid(micros: u64, clock: u16) -> String {
    let v = ((micros & ((1 << 53) - 1)) << 10) | u64::from(clock & 0x3ff);
    (0..13).rev().map(|i| B32_SORTABLE[((v >> (i * 5)) & 31) as usize] as char).collect()
}

/// A did:plc made of 24 base32 chars derived from `n`.
pub fn did(n: u64) -> String {
    let mut rng = Rng::new(n.wrapping_mul(31).wrapping_add(7));
    let id: String = (0..24).map(|_| B32[rng.below(32) as usize] as char).collect();
    format!("did:plc:{id}")
}

/// A syntactically valid CIDv1 string (`b` + base32) with the given codec and a pseudo-random hash.
pub fn fake_cid(rng: &mut Rng, codec: u8) -> String {
    let mut bytes = vec![0x01, codec, 0x12, 0x20];
    for _ in 0..4 {
        bytes.extend_from_slice(&rng.next_u64().to_be_bytes());
    }
    let mut out = String::from("b");
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(B32[((acc >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(B32[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// The real CID of a record given as atproto JSON: CIDv1, dag-cbor, sha2-256 of its DAG-CBOR encoding.
/// Panics on a value that is not atproto data (a float, an unsafe integer), which no fixture holds.
pub fn record_cid(record: &serde_json::Value) -> String {
    use shrike::cbor::json::{Integers, json_to_drisl};
    let bytes = json_to_drisl(record, Integers::Safe).expect("fixture records are atproto data");
    shrike::cbor::Cid::compute(shrike::cbor::Codec::Drisl, &bytes).to_string()
}
