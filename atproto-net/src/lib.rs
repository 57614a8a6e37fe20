//! The network edge of atproto: everything reprise fetches from hosts that the network itself names.
//!
//! [`net`] is the SSRF guard every such request goes through ([`GuardedHttp`]); [`identity`] resolves a
//! DID to its document (`did:plc` through the PLC directory, `did:web`) with a TTL cache, and from it to
//! the PDS, handle and repo key; [`did`] is the document type, with services and verification methods
//! looked up by id (the PDS and the repo key, a labeler's endpoint and label key); [`key`] turns a
//! published key into one that verifies signatures, in every form DID documents use.
//!
//! Invariants: no request leaves except through [`GuardedHttp`]; this crate knows nothing of the log, the
//! read models, the object store or audio, and links none of them.

pub mod did;
mod error;
pub mod identity;
pub mod key;
pub mod net;

pub use did::{
    DidDocument, LABEL_KEY, LABELER_SERVICE, PDS_SERVICE, REPO_KEY, Service, ServiceKind, VerificationMethod,
};
pub use identity::{IdentityConfig, IdentityError, IdentityResolver, ResolvedIdentity};
pub use key::{KeyError, KeyForm, PublicKey};
pub use net::{GuardedHttp, NetError, NetPolicy};
