//! DID documents: what a DID claims about itself (aliases, verification methods, services), parsed from
//! attacker-controlled JSON. Entries of the wrong shape are skipped one by one rather than failing the
//! whole document, and every lookup is by id fragment, so any service or key can be asked for: the PDS and
//! the repo signing key, a labeler's endpoint and its label key.

use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::error::IdentityError;
use crate::key::{KeyForm, PublicKey};

/// A kind of service a DID document may name: the fragment of its id and its `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceKind {
    pub fragment: &'static str,
    pub kind: &'static str,
}

/// The account's PDS: where its repo and blobs live.
pub const PDS_SERVICE: ServiceKind =
    ServiceKind { fragment: "atproto_pds", kind: "AtprotoPersonalDataServer" };
/// A labeler's endpoint (`com.atproto.label.*`).
pub const LABELER_SERVICE: ServiceKind = ServiceKind { fragment: "atproto_labeler", kind: "AtprotoLabeler" };
/// The verification method whose key signs repo commits.
pub const REPO_KEY: &str = "atproto";
/// The verification method whose key signs a labeler's labels.
pub const LABEL_KEY: &str = "atproto_label";

/// A DID document, reduced to the entries that had the expected shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DidDocument {
    pub id: String,
    pub also_known_as: Vec<String>,
    pub verification_methods: Vec<VerificationMethod>,
    pub services: Vec<Service>,
}

/// One `verificationMethod` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationMethod {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub public_key_multibase: Option<String>,
}

/// One `service` entry whose endpoint is a plain string.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub service_endpoint: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    id: String,
    #[serde(default)]
    also_known_as: Vec<Lenient<String>>,
    #[serde(default)]
    verification_method: Vec<Lenient<VerificationMethod>>,
    #[serde(default)]
    service: Vec<Lenient<Service>>,
}

/// An array entry that is skipped, not fatal, when it has the wrong shape.
#[derive(Deserialize)]
#[serde(untagged)]
enum Lenient<T> {
    Valid(T),
    Invalid(IgnoredAny),
}

fn valid<T>(entries: Vec<Lenient<T>>) -> Vec<T> {
    entries
        .into_iter()
        .filter_map(|e| match e {
            Lenient::Valid(v) => Some(v),
            Lenient::Invalid(_) => None,
        })
        .collect()
}

/// Whether an entry's id (`#frag` or `did:...#frag`) names `fragment`.
fn names(id: &str, fragment: &str) -> bool {
    id.rsplit_once('#').is_some_and(|(_, f)| f == fragment)
}

impl DidDocument {
    /// Parse `body` as `did`'s document; a document for another DID is refused.
    pub fn parse(did: &str, body: &[u8]) -> Result<Self, IdentityError> {
        let wire: Wire =
            serde_json::from_slice(body).map_err(|e| IdentityError::InvalidDocument(e.to_string()))?;
        if wire.id != did {
            return Err(IdentityError::DidMismatch(wire.id.chars().take(100).collect()));
        }
        Ok(Self {
            id: wire.id,
            also_known_as: valid(wire.also_known_as),
            verification_methods: valid(wire.verification_method),
            services: valid(wire.service),
        })
    }

    /// The first service with the id fragment and type of `kind`.
    pub fn service(&self, kind: ServiceKind) -> Option<&Service> {
        self.services.iter().find(|s| names(&s.id, kind.fragment) && s.kind == kind.kind)
    }

    /// The first verification method with the id fragment `fragment`.
    pub fn verification_method(&self, fragment: &str) -> Option<&VerificationMethod> {
        self.verification_methods.iter().find(|m| names(&m.id, fragment))
    }

    /// The first usable key (a form reprise can verify with, base58btc) among the verification methods
    /// with the id fragment `fragment`.
    pub fn key(&self, fragment: &str) -> Option<PublicKey> {
        self.verification_methods.iter().filter(|m| names(&m.id, fragment)).find_map(|m| {
            let form = KeyForm::from_method_type(&m.kind)?;
            let multibase = m.public_key_multibase.as_ref().filter(|k| k.starts_with('z'))?;
            Some(PublicKey { form, multibase: multibase.clone() })
        })
    }

    /// The handle the document claims: its first `at://` alias, lowercased (not verified against the
    /// handle's own records). `None` when that alias is not a plausible host name.
    pub fn handle(&self) -> Option<String> {
        self.also_known_as
            .iter()
            .find_map(|aka| aka.strip_prefix("at://"))
            .filter(|h| !h.is_empty() && h.len() <= 253 && !h.contains('/'))
            .map(str::to_ascii_lowercase)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DID: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";

    /// A labeler's document as the reference PLC serves it, with a PDS, a labeler endpoint and two keys.
    fn labeler() -> String {
        format!(
            r##"{{"id":"{DID}","alsoKnownAs":["at://mod.example.com"],
            "verificationMethod":[
              {{"id":"{DID}#atproto","type":"Multikey","controller":"{DID}","publicKeyMultibase":"zRepoKey"}},
              {{"id":"{DID}#atproto_label","type":"Multikey","controller":"{DID}","publicKeyMultibase":"zLabelKey"}}],
            "service":[
              {{"id":"#atproto_pds","type":"AtprotoPersonalDataServer","serviceEndpoint":"https://pds.example.com"}},
              {{"id":"#atproto_labeler","type":"AtprotoLabeler","serviceEndpoint":"https://mod.example.com"}}]}}"##
        )
    }

    #[test]
    fn services_and_keys_are_found_by_id() {
        let doc = DidDocument::parse(DID, labeler().as_bytes()).expect("parse");
        assert_eq!(
            doc.service(PDS_SERVICE).map(|s| s.service_endpoint.as_str()),
            Some("https://pds.example.com")
        );
        assert_eq!(
            doc.service(LABELER_SERVICE).map(|s| s.service_endpoint.as_str()),
            Some("https://mod.example.com")
        );
        assert_eq!(doc.key(REPO_KEY), Some(PublicKey::multikey("zRepoKey")));
        assert_eq!(doc.key(LABEL_KEY), Some(PublicKey::multikey("zLabelKey")));
        assert_eq!(doc.verification_method(LABEL_KEY).map(|m| m.kind.as_str()), Some("Multikey"));
        assert_eq!(doc.handle().as_deref(), Some("mod.example.com"));
    }

    #[test]
    fn a_fragment_must_match_whole() {
        let body = format!(
            r##"{{"id":"{DID}","verificationMethod":[
              {{"id":"{DID}#atproto_label","type":"Multikey","publicKeyMultibase":"zLabel"}}],
            "service":[{{"id":"#xatproto_pds","type":"AtprotoPersonalDataServer","serviceEndpoint":"https://a"}}]}}"##
        );
        let doc = DidDocument::parse(DID, body.as_bytes()).expect("parse");
        assert_eq!(doc.key(REPO_KEY), None, "#atproto_label is not #atproto");
        assert_eq!(doc.service(PDS_SERVICE), None, "#xatproto_pds is not #atproto_pds");
    }

    #[test]
    fn unusable_entries_are_skipped_not_fatal() {
        let body = format!(
            r##"{{"id":"{DID}","alsoKnownAs":[7, "at://First.example"],
            "verificationMethod":[
              {{"id":"#atproto","type":"JsonWebKey2020","publicKeyJwk":{{}}}},
              {{"id":"#atproto","type":"Multikey","publicKeyMultibase":"uNotBase58"}},
              {{"id":"#atproto","type":"EcdsaSecp256k1VerificationKey2019","publicKeyMultibase":"zLegacy"}}],
            "service":[42,
              {{"id":"#atproto_labeler","type":"AtprotoPersonalDataServer","serviceEndpoint":"https://wrong.type"}},
              {{"id":"#atproto_labeler","type":"AtprotoLabeler","serviceEndpoint":{{"uri":"https://an.object"}}}},
              {{"id":"#atproto_labeler","type":"AtprotoLabeler","serviceEndpoint":"https://right"}}]}}"##
        );
        let doc = DidDocument::parse(DID, body.as_bytes()).expect("parse");
        assert_eq!(
            doc.key(REPO_KEY),
            Some(PublicKey { form: KeyForm::LegacySecp256k1, multibase: "zLegacy".into() })
        );
        assert_eq!(doc.service(LABELER_SERVICE).map(|s| s.service_endpoint.as_str()), Some("https://right"));
        assert_eq!(doc.handle().as_deref(), Some("first.example"));
        assert_eq!(doc.services.len(), 2, "the number and the object endpoint are dropped");
    }

    #[test]
    fn malformed_documents_are_refused_with_the_reason() {
        for (body, expected) in [
            ("<html>".to_owned(), "invalid did document"),
            (r#"{"alsoKnownAs":[]}"#.to_owned(), "invalid did document: missing field `id`"),
            (format!(r#"{{"id":"{DID}","service":7}}"#), "invalid did document"),
            (r#"{"id":"did:plc:someoneelse"}"#.to_owned(), "did document is for did:plc:someoneelse"),
        ] {
            let err = DidDocument::parse(DID, body.as_bytes()).expect_err(&body);
            assert!(err.to_string().starts_with(expected), "{body}: {err}");
        }
    }

    #[test]
    fn a_handle_must_be_a_plausible_host() {
        for (aliases, expected) in [
            (r#"["https://x.example","at://Artist.example.com"]"#, Some("artist.example.com")),
            (r#"["at://"]"#, None),
            (r#"["at://a.example/path","at://b.example"]"#, None),
            ("[]", None),
        ] {
            let body = format!(r#"{{"id":"{DID}","alsoKnownAs":{aliases}}}"#);
            let doc = DidDocument::parse(DID, body.as_bytes()).expect("parse");
            assert_eq!(doc.handle().as_deref(), expected, "{aliases}");
        }
    }
}
