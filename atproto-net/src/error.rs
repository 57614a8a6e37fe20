//! What can go wrong resolving a DID and reading its document (its own module, so the document type and
//! the resolver share it without importing each other).

use crate::net::NetError;

/// Errors of identity resolution.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("invalid did: {0}")]
    InvalidDid(String),
    #[error("invalid plc directory url: {0}")]
    InvalidPlcUrl(String),
    #[error(transparent)]
    Net(#[from] NetError),
    #[error("did not found")]
    NotFound,
    #[error("did is deactivated")]
    Deactivated,
    #[error("directory answered {status}")]
    Status { status: u16 },
    #[error("did document is larger than {cap} bytes")]
    TooLarge { cap: usize },
    #[error("invalid did document: {0}")]
    InvalidDocument(String),
    #[error("did document is for {0}")]
    DidMismatch(String),
    #[error("did document names no atproto pds")]
    NoPds,
    #[error("invalid service endpoint: {0}")]
    InvalidEndpoint(String),
}
