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

/// v1 carries the body at the top level; v2 nests the same body inside `payload`.
#[derive(Deserialize)]
struct AccountFrame {
    account: Option<AccountBody>,
    payload: Option<Box<AccountFrame>>,
}

#[derive(Deserialize)]
struct IdentityFrame {
    identity: Option<IdentityBody>,
    payload: Option<Box<IdentityFrame>>,
}

/// The account body of a stored account frame.
pub fn account_body(frame: &[u8]) -> Result<AccountBody, String> {
    let f: AccountFrame =
        serde_json::from_slice(frame).map_err(|e| format!("unreadable account frame: {e}"))?;
    f.account
        .or_else(|| f.payload.and_then(|p| p.account))
        .ok_or_else(|| "account frame without a body".into())
}

/// The identity body of a stored identity frame.
pub fn identity_body(frame: &[u8]) -> Result<IdentityBody, String> {
    let f: IdentityFrame =
        serde_json::from_slice(frame).map_err(|e| format!("unreadable identity frame: {e}"))?;
    f.identity
        .or_else(|| f.payload.and_then(|p| p.identity))
        .ok_or_else(|| "identity frame without a body".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_wires_and_garbage() {
        let v1 = br#"{"did":"did:plc:a","kind":"account","account":{"active":false,"status":"takendown"}}"#;
        let v2 = br#"{"$type":"message","payload":{"did":"did:plc:a","account":{"active":true}}}"#;
        assert_eq!(account_body(v1).unwrap().status.as_deref(), Some("takendown"));
        assert!(account_body(v2).unwrap().active);
        assert!(account_body(b"{}").is_err());
        assert!(account_body(b"nope").is_err());
        let v2 = br#"{"payload":{"identity":{"handle":"a.example.com"}}}"#;
        assert_eq!(identity_body(v2).unwrap().handle.as_deref(), Some("a.example.com"));
    }
}
