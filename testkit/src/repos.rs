//! Real signed repositories built with shrike, as a PDS serves them from `com.atproto.sync.getRepo`,
//! and the ways a hostile or broken PDS can spoil them.

use serde_json::{Value, json};
use shrike::car::{Block, SliceReader};
use shrike::cbor::json::{Integers, json_slice_to_drisl};
use shrike::cbor::{Cid, Codec};
use shrike::crypto::{P256SigningKey, SigningKey};
use shrike::mst::node::{EntryData, NodeData, encode_node_data};
use shrike::repo::{Commit, Repo};
use shrike::syntax::{Did, Nsid, RecordKey, Tid, TidClock};

/// One record of a generated repo.
#[derive(Debug, Clone)]
pub struct RepoRecord {
    pub collection: String,
    pub rkey: String,
    pub record: Value,
}

impl RepoRecord {
    pub fn new(collection: &str, rkey: &str, record: Value) -> Self {
        RepoRecord { collection: collection.to_owned(), rkey: rkey.to_owned(), record }
    }
}

/// A signed repo: its CAR export and what a test needs to check against it.
#[derive(Debug, Clone)]
pub struct BuiltRepo {
    pub did: String,
    pub rev: String,
    pub commit_cid: String,
    pub car: Vec<u8>,
    pub records: Vec<RepoRecord>,
}

/// An account: a DID and the P-256 key its DID document publishes.
pub struct Account {
    pub did: String,
    pub key: P256SigningKey,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account").field("did", &self.did).finish_non_exhaustive()
    }
}

impl Account {
    /// The account with DID `crate::did(n)` and a fresh key.
    pub fn new(n: u64) -> Self {
        Account { did: crate::did(n), key: P256SigningKey::generate() }
    }

    /// The `publicKeyMultibase` of the key (Multikey form).
    pub fn multibase(&self) -> String {
        self.key.public_key().multibase()
    }

    /// Builds and signs a repo holding `records`, at a rev no earlier than `rev_after_us` (unix µs).
    pub fn repo(&self, records: &[RepoRecord], rev_after_us: u64) -> BuiltRepo {
        self.repo_signed_by(records, rev_after_us, &self.key)
    }

    /// The same, signed with another key (the DID document still names this account's).
    pub fn repo_signed_by(
        &self,
        records: &[RepoRecord],
        rev_after_us: u64,
        key: &P256SigningKey,
    ) -> BuiltRepo {
        let clock = TidClock::new(0).expect("clock");
        clock.observe(Tid::new(rev_after_us, 0).expect("tid"));
        let mut repo = Repo::new(Did::try_from(self.did.as_str()).expect("did"), clock);
        for r in records {
            let collection = Nsid::try_from(r.collection.as_str()).expect("nsid");
            let rkey = RecordKey::try_from(r.rkey.as_str()).expect("rkey");
            repo.create(&collection, &rkey, &drisl(&r.record)).expect("create record");
        }
        let commit = repo.commit(key).expect("commit");
        BuiltRepo {
            did: self.did.clone(),
            rev: commit.rev().to_string(),
            commit_cid: commit.cid.to_string(),
            car: repo.export_car().expect("export"),
            records: records.to_vec(),
        }
    }

    /// A correctly signed repo whose MST is one node holding every key, whatever the keys' heights:
    /// every block matches its CID, but the tree is not the one the MST rules build.
    pub fn repo_with_flat_mst(&self, records: &[RepoRecord], rev_after_us: u64) -> BuiltRepo {
        let mut sorted: Vec<(String, Vec<u8>)> =
            records.iter().map(|r| (format!("{}/{}", r.collection, r.rkey), drisl(&r.record))).collect();
        sorted.sort();
        let mut blocks = Vec::new();
        let mut entries = Vec::new();
        let mut prev: &[u8] = b"";
        for (key, data) in &sorted {
            let cid = Cid::compute(Codec::Drisl, data);
            let shared = prev.iter().zip(key.as_bytes()).take_while(|(a, b)| a == b).count();
            entries.push(EntryData {
                prefix_len: shared,
                key_suffix: key.as_bytes()[shared..].to_vec(),
                value: cid,
                right: None,
            });
            blocks.push(Block { cid, data: data.clone() });
            prev = key.as_bytes();
        }
        let node = encode_node_data(&NodeData { left: None, entries }).expect("node");
        let node_cid = Cid::compute(Codec::Drisl, &node);
        blocks.push(Block { cid: node_cid, data: node });
        let rev = Tid::new(rev_after_us + 1, 0).expect("tid");
        let did = Did::try_from(self.did.as_str()).expect("did");
        let signed = Commit::create_signed(did, rev, node_cid, &self.key).expect("sign");
        blocks.insert(0, Block { cid: signed.cid, data: signed.bytes });
        BuiltRepo {
            did: self.did.clone(),
            rev: rev.to_string(),
            commit_cid: signed.cid.to_string(),
            car: shrike::car::write_all(&[signed.cid], &blocks).expect("car"),
            records: records.to_vec(),
        }
    }

    /// The DID document a PLC directory would serve for this account on `pds`.
    pub fn did_document(&self, pds: &str) -> Value {
        json!({
            "id": self.did,
            "alsoKnownAs": [format!("at://{}.test", &self.did[8..16])],
            "verificationMethod": [{
                "id": format!("{}#atproto", self.did), "type": "Multikey", "controller": self.did,
                "publicKeyMultibase": self.multibase(),
            }],
            "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": pds}],
        })
    }
}

/// The CAR with one record block's bytes changed (its CID kept): the block no longer matches its CID.
pub fn corrupt_a_record(repo: &BuiltRepo) -> Vec<u8> {
    let record = drisl(&repo.records[0].record);
    let mut reader = SliceReader::new(&repo.car).expect("car");
    let roots = reader.roots().to_vec();
    let mut blocks = Vec::new();
    while let Some(b) = reader.next_block().expect("block") {
        let mut data = b.data.to_vec();
        if data == record {
            let last = data.len() - 1;
            data[last] ^= 0x01;
        }
        blocks.push(Block { cid: b.cid, data });
    }
    shrike::car::write_all(&roots, &blocks).expect("car")
}

/// A record's DAG-CBOR (DRISL) bytes.
pub fn drisl(record: &Value) -> Vec<u8> {
    json_slice_to_drisl(record.to_string().as_bytes(), Integers::Safe).expect("record encodes")
}

/// `n` valid `fm.plyr.track` records with TID-like keys.
pub fn tracks(n: usize, salt: u64) -> Vec<RepoRecord> {
    (0..n)
        .map(|i| {
            let rkey = crate::tid(1_700_000_000_000_000 + salt * 1_000_000_000 + i as u64 * 1_000, 7);
            let record = json!({
                "$type": "fm.plyr.track", "title": format!("Track {i}"), "artist": "Backfill Artist",
                "fileType": "mp3", "createdAt": "2026-01-02T03:04:05.000Z", "duration": 180 + i as i64,
                "album": "Backfilled", "audioUrl": format!("https://audio.example/{rkey}.mp3"),
            });
            RepoRecord::new("fm.plyr.track", &rkey, record)
        })
        .collect()
}
