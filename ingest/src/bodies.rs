//! The bodies of stored v1 identity and account frames, for stages that must not know the wire.

use serde::Deserialize;

/// An account frame's body: `{active, status?, time}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AccountBody {
    pub active: bool,
    pub status: Option<String>,
    pub time: Option<String>,
}

/// An identity frame's body: `{handle?, time}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IdentityBody {
    pub handle: Option<String>,
    pub time: Option<String>,
}

#[derive(Deserialize)]
struct AccountFrame {
    account: AccountBody,
}

#[derive(Deserialize)]
struct IdentityFrame {
    identity: IdentityBody,
}

/// The account body of a stored account frame.
pub fn account_body(frame: &[u8]) -> Result<AccountBody, String> {
    serde_json::from_slice::<AccountFrame>(frame)
        .map(|f| f.account)
        .map_err(|e| format!("unreadable account frame: {e}"))
}

/// The identity body of a stored identity frame.
pub fn identity_body(frame: &[u8]) -> Result<IdentityBody, String> {
    serde_json::from_slice::<IdentityFrame>(frame)
        .map(|f| f.identity)
        .map_err(|e| format!("unreadable identity frame: {e}"))
}
