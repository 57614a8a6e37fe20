//! `com.atproto.sync.subscribeRepos` frames as a PDS sends them: a DAG-CBOR header `{op, t}` and body,
//! commits made from real signed repos (shrike's `Repo`: the blocks are the commit's relevant CAR, the
//! commit block, the covering MST proof and the new records), and the ways a broken host spoils them.

use serde_json::Value as Json;
use shrike::car::{Block, SliceReader};
use shrike::cbor::{Cid, Value, encode_value};
use shrike::repo::{CommitData, RecordAction, Repo};
use shrike::syntax::{Did, Nsid, RecordKey, Tid, TidClock};

use crate::repos::{Account, drisl};

/// The `time` stamped on message `seq`: a fixed day plus `seq` seconds, so frames are reproducible.
pub fn firehose_time(seq: i64) -> String {
    let t = jiff::Timestamp::from_second(1_780_000_000 + seq).expect("time");
    t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// A frame: header `{op, t}` then `body`, both canonical DAG-CBOR.
pub fn frame(op: i64, t: Option<&str>, body: &Value<'_>) -> Vec<u8> {
    let mut header = vec![("op", Value::Signed(op))];
    if let Some(t) = t {
        header.push(("t", Value::Text(t)));
    }
    let mut bytes = encode_value(&Value::Map(header)).expect("header");
    bytes.extend(encode_value(body).expect("body"));
    bytes
}

/// `#identity`.
pub fn identity_frame(seq: i64, did: &str, handle: Option<&str>) -> Vec<u8> {
    let time = firehose_time(seq);
    let mut body = vec![("did", Value::Text(did)), ("seq", Value::Signed(seq)), ("time", Value::Text(&time))];
    if let Some(h) = handle {
        body.push(("handle", Value::Text(h)));
    }
    frame(1, Some("#identity"), &Value::Map(body))
}

/// `#account`.
pub fn account_frame(seq: i64, did: &str, active: bool, status: Option<&str>) -> Vec<u8> {
    let time = firehose_time(seq);
    let mut body = vec![
        ("did", Value::Text(did)),
        ("seq", Value::Signed(seq)),
        ("time", Value::Text(&time)),
        ("active", Value::Bool(active)),
    ];
    if let Some(s) = status {
        body.push(("status", Value::Text(s)));
    }
    frame(1, Some("#account"), &Value::Map(body))
}

/// `#info` (e.g. `OutdatedCursor`).
pub fn info_frame(name: &str, message: &str) -> Vec<u8> {
    frame(1, Some("#info"), &Value::Map(vec![("name", Value::Text(name)), ("message", Value::Text(message))]))
}

/// An error frame (`op: -1`, no `t`).
pub fn error_frame(error: &str, message: &str) -> Vec<u8> {
    frame(-1, None, &Value::Map(vec![("error", Value::Text(error)), ("message", Value::Text(message))]))
}

/// A repo that changes over time, each commit signed by its account's key.
pub struct LiveRepo {
    pub account: Account,
    repo: Repo,
}

impl std::fmt::Debug for LiveRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveRepo").field("did", &self.account.did).finish_non_exhaustive()
    }
}

impl LiveRepo {
    /// An empty repo for `crate::did(n)`.
    pub fn new(n: u64) -> Self {
        let account = Account::new(n);
        let clock = TidClock::new(0).expect("clock");
        clock.observe(Tid::new(1_780_000_000_000_000, 0).expect("tid"));
        let repo = Repo::new(Did::try_from(account.did.as_str()).expect("did"), clock);
        LiveRepo { account, repo }
    }

    pub fn did(&self) -> &str {
        &self.account.did
    }

    pub fn create(&mut self, collection: &str, rkey: &str, record: &Json) -> &mut Self {
        self.repo.create(&nsid(collection), &rkey_of(rkey), &drisl(record)).expect("create");
        self
    }

    pub fn update(&mut self, collection: &str, rkey: &str, record: &Json) -> &mut Self {
        self.repo.update(&nsid(collection), &rkey_of(rkey), &drisl(record)).expect("update");
        self
    }

    pub fn delete(&mut self, collection: &str, rkey: &str) -> &mut Self {
        self.repo.delete(&nsid(collection), &rkey_of(rkey)).expect("delete");
        self
    }

    /// Signs the staged writes into a commit.
    pub fn commit(&mut self) -> CommitData {
        self.repo.commit(&self.account.key).expect("commit")
    }

    /// Signs the staged writes and returns the `#commit` frame at `seq` with the first op's record block
    /// changed (its CID kept): the block no longer matches its CID.
    pub fn corrupted_commit_frame(&mut self, seq: i64) -> Vec<u8> {
        let c = self.commit();
        let record = c.ops[0].cid.expect("the first op writes a record");
        let car = spoil_blocks(&c.relevant_car().expect("car"), |cid, data| {
            if *cid == record {
                data[3] ^= 0x20;
            }
            true
        });
        commit_frame(seq, &c, &car, false)
    }

    /// Signs the staged writes and returns the `#commit` frame at `seq` carrying them.
    pub fn commit_frame(&mut self, seq: i64) -> Vec<u8> {
        let c = self.commit();
        commit_frame(seq, &c, &c.relevant_car().expect("car"), false)
    }
}

/// The `#commit` frame at `seq` for `c`, with `blocks` as its CAR (a real one, or a spoiled one).
pub fn commit_frame(seq: i64, c: &CommitData, blocks: &[u8], too_big: bool) -> Vec<u8> {
    let did = c.commit.did.to_string();
    let rev = c.rev().to_string();
    let since = c.since.map(|s| s.to_string());
    let time = firehose_time(seq);
    let paths: Vec<String> = c.ops.iter().map(|o| format!("{}/{}", o.collection, o.rkey)).collect();
    let ops = c
        .ops
        .iter()
        .zip(&paths)
        .map(|(o, path)| {
            let action = match o.action {
                RecordAction::Create => "create",
                RecordAction::Update => "update",
                RecordAction::Delete => "delete",
            };
            let mut op = vec![
                ("action", Value::Text(action)),
                ("path", Value::Text(path)),
                ("cid", o.cid.map_or(Value::Null, Value::Cid)),
            ];
            if let Some(prev) = o.prev {
                op.push(("prev", Value::Cid(prev)));
            }
            Value::Map(op)
        })
        .collect();
    let body = Value::Map(vec![
        ("seq", Value::Signed(seq)),
        ("rebase", Value::Bool(false)),
        ("tooBig", Value::Bool(too_big)),
        ("repo", Value::Text(&did)),
        ("commit", Value::Cid(c.cid)),
        ("rev", Value::Text(&rev)),
        ("since", since.as_deref().map_or(Value::Null, Value::Text)),
        ("blocks", Value::Bytes(if too_big { &[] } else { blocks })),
        ("ops", Value::Array(ops)),
        ("blobs", Value::Array(Vec::new())),
        ("time", Value::Text(&time)),
    ]);
    frame(1, Some("#commit"), &body)
}

/// The CAR `car` with `spoil` applied to each block (the CIDs kept as they were).
pub fn spoil_blocks(car: &[u8], mut spoil: impl FnMut(&Cid, &mut Vec<u8>) -> bool) -> Vec<u8> {
    let mut reader = SliceReader::new(car).expect("car");
    let roots = reader.roots().to_vec();
    let mut blocks = Vec::new();
    while let Some(b) = reader.next_block().expect("block") {
        let mut data = b.data.to_vec();
        if spoil(&b.cid, &mut data) {
            blocks.push(Block { cid: b.cid, data });
        }
    }
    shrike::car::write_all(&roots, &blocks).expect("car")
}

fn nsid(s: &str) -> Nsid {
    Nsid::try_from(s).expect("nsid")
}

fn rkey_of(s: &str) -> RecordKey {
    RecordKey::try_from(s).expect("rkey")
}
