//! Checking a repo as `getRepo` returns it, before anything from it reaches the log: every block against
//! its CID, the commit's DID and signature against the DID document's key, and the MST's structure (it
//! must load under shrike's node checks and be exactly the tree the MST rules build from its entries).

use std::collections::HashMap;

use shrike::car::SliceReader;
use shrike::cbor::json::drisl_to_json_into;
use shrike::cbor::{Cid, Codec};
use shrike::crypto::VerifyingKey;
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
}
