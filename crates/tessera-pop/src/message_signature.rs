//! RFC 9421 HTTP Message Signatures with `hmac-sha256` (§3.3.3): the
//! request proof of MAC tokens.
//!
//! - [`Message`]: the parts of a message a signature covers (method, the
//!   target URI the verifier is configured with, header fields, body).
//! - Components (§2): HTTP fields by lowercased name, all instances trimmed
//!   and joined (§2.1); the derived components `@method`, `@target-uri`,
//!   `@authority`, `@scheme`, `@request-target`, `@path`, `@query`,
//!   `@query-param` and `@status` (§2.2). The field parameters `sf`, `key`,
//!   `bs`, `req` and `tr` (§2.1.1–§2.1.5, §2.4) are refused as unsupported.
//! - The signature base (§2.5) with its `@signature-params` line (§2.3),
//!   in `message_signature/base.rs`.
//! - `Signature-Input` and `Signature` (§4.1, §4.2), any label, in
//!   `message_signature/header.rs`; the parameters `created`, `expires`,
//!   `nonce`, `alg`, `keyid` and `tag` (§2.3).
//! - [`sign`] (§3.1) and [`verify`] (§3.2) with HMAC-SHA256 (constant-time
//!   comparison), and the [`Policy`] a verifier applies (§3.2.1, §7.2):
//!   required components, `content-digest` over a body (RFC 9530, checked
//!   against the body), a `created` window, `alg`, `keyid`, `nonce`.
//!   Checking a `nonce` for replay is the caller's (see `replay`).
//!
//! Limits, checked before any parsing or MAC (a request is not
//! authenticated yet): [`MAX_FIELD_LEN`] per `Signature-Input` /
//! `Signature` value, [`MAX_SIGNATURES`] labels, [`MAX_COMPONENTS`] covered
//! components per signature.

mod base;
mod header;

use aws_lc_rs::hmac;
use sfv::{BareItem, Integer, Key, key_ref};

pub use base::Message;
pub use header::Candidate;

use crate::content_digest::{self, DigestError};

/// Longest `Signature-Input` or `Signature` value (all instances joined).
pub const MAX_FIELD_LEN: usize = 8 * 1024;
/// Most signatures (labels) on one message.
pub const MAX_SIGNATURES: usize = 8;
/// Most covered components in one signature.
pub const MAX_COMPONENTS: usize = 32;
/// The one algorithm implemented (RFC 9421 §3.3.3).
pub const HMAC_SHA256: &str = "hmac-sha256";

/// A covered component identifier (RFC 9421 §2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Component {
    /// `@method` (§2.2.1).
    Method,
    /// `@target-uri` (§2.2.2).
    TargetUri,
    /// `@authority` (§2.2.3).
    Authority,
    /// `@scheme` (§2.2.4).
    Scheme,
    /// `@request-target` (§2.2.5).
    RequestTarget,
    /// `@path` (§2.2.6).
    Path,
    /// `@query` (§2.2.7).
    Query,
    /// `@query-param;name=` (§2.2.8), the name percent-encoded.
    QueryParam(String),
    /// `@status` (§2.2.9), responses only.
    Status,
    /// An HTTP field by its lowercased name (§2.1).
    Field(String),
}

impl Component {
    /// An HTTP field component; the name is lowercased.
    pub fn field(name: &str) -> Self {
        Component::Field(name.to_ascii_lowercase())
    }

    fn from_item(item: &sfv::Item) -> Result<Self, SignatureError> {
        let name = item
            .bare_item
            .as_string()
            .ok_or_else(|| SignatureError::Malformed("a component identifier is not a string".into()))?;
        let name = name.as_str();
        for (key, _) in &item.params {
            if !(name == "@query-param" && key.as_str() == "name") {
                return Err(SignatureError::UnsupportedParameter(format!("\"{name}\";{}", key.as_str())));
            }
        }
        Ok(match name {
            "@method" => Component::Method,
            "@target-uri" => Component::TargetUri,
            "@authority" => Component::Authority,
            "@scheme" => Component::Scheme,
            "@request-target" => Component::RequestTarget,
            "@path" => Component::Path,
            "@query" => Component::Query,
            "@status" => Component::Status,
            "@query-param" => {
                let n = item
                    .params
                    .get("name")
                    .and_then(BareItem::as_string)
                    .map(|s| s.as_str())
                    .ok_or_else(|| SignatureError::Malformed("@query-param without a string name".into()))?;
                let encoded = n.bytes().all(|b| b.is_ascii_alphanumeric() || b"*-._%".contains(&b));
                if !encoded {
                    return Err(SignatureError::Malformed(format!("@query-param name {n:?} is not percent-encoded")));
                }
                Component::QueryParam(n.to_owned())
            }
            n if n.starts_with('@') => {
                return Err(SignatureError::UnsupportedComponent(n.to_owned()));
            }
            n => {
                let token = !n.is_empty()
                    && n.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&b));
                if !token {
                    return Err(SignatureError::Malformed(format!("field name {n:?} is not a lowercase token")));
                }
                Component::Field(n.to_owned())
            }
        })
    }

    fn name(&self) -> &str {
        match self {
            Component::Method => "@method",
            Component::TargetUri => "@target-uri",
            Component::Authority => "@authority",
            Component::Scheme => "@scheme",
            Component::RequestTarget => "@request-target",
            Component::Path => "@path",
            Component::Query => "@query",
            Component::QueryParam(_) => "@query-param",
            Component::Status => "@status",
            Component::Field(n) => n,
        }
    }

    fn to_item(&self) -> Result<sfv::Item, SignatureError> {
        let s = |v: &str| {
            sfv::String::from_string(v.to_owned())
                .map_err(|_| SignatureError::Malformed(format!("{v:?} is not an sf-string")))
        };
        let mut item = sfv::Item::new(s(self.name())?);
        if let Component::QueryParam(n) = self {
            item.params.insert(key_ref("name").to_owned(), BareItem::String(s(n)?));
        }
        Ok(item)
    }
}

/// The serialized component identifier, as in a signature base line.
impl std::fmt::Display for Component {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names are validated tokens and query names percent-encoded: no
        // character needs escaping.
        write!(f, "\"{}\"", self.name())?;
        if let Component::QueryParam(n) = self {
            write!(f, ";name=\"{n}\"")?;
        }
        Ok(())
    }
}

/// Whether an error is the request's shape (`invalid_request`) or a
/// signature that does not prove what it must (`invalid_signature`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Malformed, oversized or unsupported: `invalid_request`.
    InvalidRequest,
    /// Does not verify or does not meet the policy: `invalid_signature`.
    InvalidSignature,
}

impl ErrorKind {
    /// The error code.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::InvalidSignature => "invalid_signature",
        }
    }
}

/// Why a message signature was not made or not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The message has no such header.
    #[error("no {0} header")]
    MissingHeader(&'static str),
    /// A header is over [`MAX_FIELD_LEN`].
    #[error("the {0} header is too large")]
    TooLarge(&'static str),
    /// More than [`MAX_SIGNATURES`] labels.
    #[error("more than {MAX_SIGNATURES} signatures")]
    TooManySignatures,
    /// More than [`MAX_COMPONENTS`] covered components.
    #[error("more than {MAX_COMPONENTS} covered components")]
    TooManyComponents,
    /// Structured-field syntax or a parameter of the wrong type.
    #[error("malformed signature header: {0}")]
    Malformed(String),
    /// A label appears twice in one header.
    #[error("signature label {0} appears more than once")]
    DuplicateLabel(String),
    /// A label in one of `Signature-Input` / `Signature` but not the other.
    #[error("signature label {0} is not in both Signature-Input and Signature")]
    UnmatchedLabel(String),
    /// A component covered twice (§2.5).
    #[error("component {0} is covered more than once")]
    DuplicateComponent(String),
    /// A derived component we do not implement.
    #[error("unsupported derived component {0}")]
    UnsupportedComponent(String),
    /// A component parameter (`sf`, `key`, `bs`, `req`, `tr`, …) we do not
    /// implement.
    #[error("unsupported component parameter {0}")]
    UnsupportedParameter(String),
    /// The configured target URI is not absolute.
    #[error("the target URI is not an absolute http(s) URI")]
    BadTargetUri,
    /// A component value with a line break.
    #[error("the value of {0} contains a line break")]
    BadComponentValue(String),
    /// A `@query-param` whose name occurs more than once (§2.2.8).
    #[error("query parameter {0} occurs more than once")]
    AmbiguousQueryParam(String),
    /// A covered component the message does not have.
    #[error("covered component {0} is not in the message")]
    NotInMessage(String),
    /// No signature for the expected `keyid` (or label).
    #[error("no signature with the expected keyid")]
    NoMatchingSignature,
    /// `alg` other than `hmac-sha256`.
    #[error("unsupported signature algorithm {0}")]
    UnsupportedAlgorithm(String),
    /// The MAC does not match the signature base.
    #[error("the signature does not verify")]
    Mismatch,
    /// A component the policy requires is not covered.
    #[error("required component {0} is not covered")]
    NotCovered(String),
    /// No `created` parameter.
    #[error("the signature has no created parameter")]
    MissingCreated,
    /// `created` is older than the window.
    #[error("the signature is too old")]
    Stale,
    /// `created` is in the future beyond the allowed skew.
    #[error("the signature is created in the future")]
    CreatedInFuture,
    /// `expires` has passed.
    #[error("the signature has expired")]
    Expired,
    /// No `nonce` parameter although the policy requires one.
    #[error("the signature has no nonce")]
    MissingNonce,
    /// `keyid` differs from the expected one.
    #[error("the signature's keyid is not the expected one")]
    KeyIdMismatch,
    /// The body does not match its covered `Content-Digest`.
    #[error("content digest: {0}")]
    ContentDigest(DigestError),
}

impl SignatureError {
    /// `invalid_request` or `invalid_signature`.
    pub fn kind(&self) -> ErrorKind {
        use SignatureError as E;
        match self {
            E::MissingHeader(_)
            | E::TooLarge(_)
            | E::TooManySignatures
            | E::TooManyComponents
            | E::Malformed(_)
            | E::DuplicateLabel(_)
            | E::UnmatchedLabel(_)
            | E::DuplicateComponent(_)
            | E::UnsupportedComponent(_)
            | E::UnsupportedParameter(_)
            | E::BadTargetUri
            | E::BadComponentValue(_)
            | E::AmbiguousQueryParam(_) => ErrorKind::InvalidRequest,
            // A covered Content-Digest we cannot read is the request's
            // shape; one that does not match the body is a forgery.
            E::ContentDigest(d) if *d != DigestError::Mismatch => ErrorKind::InvalidRequest,
            E::NotInMessage(_)
            | E::NoMatchingSignature
            | E::UnsupportedAlgorithm(_)
            | E::Mismatch
            | E::NotCovered(_)
            | E::MissingCreated
            | E::Stale
            | E::CreatedInFuture
            | E::Expired
            | E::MissingNonce
            | E::KeyIdMismatch
            | E::ContentDigest(_) => ErrorKind::InvalidSignature,
        }
    }
}

/// The covered components and parameters of a signature (§2.3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignatureParams {
    /// Covered components, in order.
    pub components: Vec<Component>,
    /// `created`, Unix seconds.
    pub created: Option<i64>,
    /// `expires`, Unix seconds.
    pub expires: Option<i64>,
    /// `keyid`.
    pub keyid: Option<String>,
    /// `nonce`.
    pub nonce: Option<String>,
    /// `alg`.
    pub alg: Option<String>,
    /// `tag`.
    pub tag: Option<String>,
}

impl SignatureParams {
    /// The `Signature-Input` member value: the inner list, parameters in
    /// the order `created`, `expires`, `keyid`, `nonce`, `alg`, `tag`.
    pub fn serialize(&self) -> Result<String, SignatureError> {
        let mut list = sfv::InnerList::default();
        for c in &self.components {
            list.items.push(c.to_item()?);
        }
        let int = |v: i64| {
            Integer::try_from(v)
                .map(BareItem::Integer)
                .map_err(|_| SignatureError::Malformed(format!("{v} is out of range")))
        };
        let string = |v: &str| {
            sfv::String::from_string(v.to_owned())
                .map(BareItem::String)
                .map_err(|_| SignatureError::Malformed(format!("{v:?} is not an sf-string")))
        };
        let mut put = |k: &str, v: BareItem| {
            if let Ok(k) = Key::from_string(k.to_owned()) {
                list.params.insert(k, v);
            }
        };
        if let Some(v) = self.created {
            put("created", int(v)?);
        }
        if let Some(v) = self.expires {
            put("expires", int(v)?);
        }
        for (k, v) in [("keyid", &self.keyid), ("nonce", &self.nonce), ("alg", &self.alg), ("tag", &self.tag)] {
            if let Some(v) = v {
                put(k, string(v)?);
            }
        }
        Ok(serialize_inner_list(&list))
    }
}

fn serialize_inner_list(list: &sfv::InnerList) -> String {
    let mut out = String::new();
    let mut ser = sfv::ListSerializer::with_buffer(&mut out);
    let mut inner = ser.inner_list();
    inner.items(&list.items);
    let _ = inner.finish().parameters(&list.params);
    out
}

/// An `hmac-sha256` key (a MAC token's `mac_key`). Its Debug output
/// shows nothing of the key.
pub struct MacKey(hmac::Key);

impl MacKey {
    /// A key from its bytes (256 bits for MAC tokens).
    pub fn new(secret: &[u8]) -> Self {
        MacKey(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }
}

impl std::fmt::Debug for MacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MacKey(..)")
    }
}

/// The two header values a signer adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeaders {
    /// `Signature-Input` value (`label=(...);created=...`).
    pub signature_input: String,
    /// `Signature` value (`label=:BASE64:`).
    pub signature: String,
}

/// The signature base `params` make over `msg` (§2.5).
pub fn signature_base(msg: &Message<'_>, params: &SignatureParams) -> Result<String, SignatureError> {
    base::signature_base(msg, &params.components, &params.serialize()?)
}

/// Signs `msg` with `hmac-sha256` (§3.1) under `label`.
pub fn sign(
    msg: &Message<'_>,
    label: &str,
    params: &SignatureParams,
    key: &MacKey,
) -> Result<SignatureHeaders, SignatureError> {
    let label = Key::from_string(label.to_owned())
        .map_err(|_| SignatureError::Malformed(format!("label {label:?} is not a key")))?;
    let input = params.serialize()?;
    let base = base::signature_base(msg, &params.components, &input)?;
    let tag = hmac::sign(&key.0, base.as_bytes());
    let mut signature = String::new();
    sfv::DictSerializer::with_buffer(&mut signature).bare_item(&label, tag.as_ref());
    Ok(SignatureHeaders { signature_input: format!("{}={input}", label.as_str()), signature })
}

/// What a verifier requires of a signature beyond a valid MAC.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Components that must be covered.
    pub required: Vec<Component>,
    /// With a non-empty body, `content-digest` must be covered (and is then
    /// checked against the body).
    pub content_digest_with_body: bool,
    /// Oldest accepted `created`, in seconds before now.
    pub max_age: i64,
    /// How far in the future `created` may be (clock skew), in seconds.
    pub max_skew: i64,
    /// A `nonce` parameter is required.
    pub require_nonce: bool,
    /// The `keyid` the signature must name (`None`: any or none).
    pub keyid: Option<String>,
}

impl Default for Policy {
    /// MAC tokens: `@method`, `@target-uri`, `authorization` and, with a
    /// body, `content-digest`; 60 s window, 5 s skew, nonce required.
    fn default() -> Self {
        Policy {
            required: vec![Component::Method, Component::TargetUri, Component::field("authorization")],
            content_digest_with_body: true,
            max_age: 60,
            max_skew: 5,
            require_nonce: true,
            keyid: None,
        }
    }
}

impl Policy {
    /// Checks the parameters of a candidate at `now` (Unix seconds), before
    /// any MAC is computed.
    pub fn check(&self, msg: &Message<'_>, p: &SignatureParams, now: i64) -> Result<(), SignatureError> {
        if let Some(expected) = &self.keyid
            && p.keyid.as_deref() != Some(expected.as_str())
        {
            return Err(SignatureError::KeyIdMismatch);
        }
        if let Some(alg) = &p.alg
            && alg != HMAC_SHA256
        {
            return Err(SignatureError::UnsupportedAlgorithm(alg.clone()));
        }
        let with_body = msg.body_bytes().is_some_and(|b| !b.is_empty());
        let digest = Component::Field(content_digest::HEADER.to_owned());
        let body_rule = (self.content_digest_with_body && with_body).then_some(&digest);
        for c in self.required.iter().chain(body_rule) {
            if !p.components.contains(c) {
                return Err(SignatureError::NotCovered(c.to_string()));
            }
        }
        let created = p.created.ok_or(SignatureError::MissingCreated)?;
        if created > now.saturating_add(self.max_skew) {
            return Err(SignatureError::CreatedInFuture);
        }
        if now.saturating_sub(created) > self.max_age {
            return Err(SignatureError::Stale);
        }
        if p.expires.is_some_and(|e| e < now) {
            return Err(SignatureError::Expired);
        }
        if self.require_nonce && p.nonce.is_none() {
            return Err(SignatureError::MissingNonce);
        }
        Ok(())
    }
}

/// A signature that verified: what the caller enforces further (the
/// `nonce` against its replay cache, the `keyid` against the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The label it was found under.
    pub label: String,
    /// Its components and parameters.
    pub params: SignatureParams,
}

fn verify_one(msg: &Message<'_>, c: &Candidate, key: &MacKey, policy: &Policy, now: i64) -> Result<(), SignatureError> {
    policy.check(msg, &c.params, now)?;
    let base = base::signature_base(msg, &c.params.components, &c.signature_params)?;
    hmac::verify(&key.0, base.as_bytes(), &c.signature).map_err(|_| SignatureError::Mismatch)?;
    let digest = Component::Field(content_digest::HEADER.to_owned());
    if c.params.components.contains(&digest) {
        // The field is covered (so authentic); the body must match it.
        let field =
            msg.field(content_digest::HEADER).ok_or_else(|| SignatureError::NotInMessage(digest.to_string()))?;
        content_digest::verify(&field, msg.body_bytes().unwrap_or_default()).map_err(SignatureError::ContentDigest)?;
    }
    Ok(())
}

/// Verifies the `hmac-sha256` signatures of `msg` (§3.2) under `policy`
/// at `now` (Unix seconds). With several signatures, those whose `keyid`
/// is not `policy.keyid` are skipped and the first of the rest that meets
/// the policy and verifies is returned; otherwise the first one's error.
pub fn verify(msg: &Message<'_>, key: &MacKey, policy: &Policy, now: i64) -> Result<Verified, SignatureError> {
    let candidates = header::signatures(msg)?;
    let mut first_error = None;
    for c in &candidates {
        if let Some(expected) = &policy.keyid
            && candidates.len() > 1
            && c.params.keyid.as_deref() != Some(expected.as_str())
        {
            continue;
        }
        match verify_one(msg, c, key, policy, now) {
            Ok(()) => {
                return Ok(Verified { label: c.label.clone(), params: c.params.clone() });
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or(SignatureError::NoMatchingSignature))
}

/// The signatures on `msg`, parsed but not verified (for a caller that
/// picks one by label or `keyid` before finding the key).
pub fn signatures(msg: &Message<'_>) -> Result<Vec<Candidate>, SignatureError> {
    header::signatures(msg)
}

/// Verifies one candidate the caller picked (by label or `keyid`, from
/// [`signatures`]) under `policy` at `now`.
pub fn verify_candidate(
    msg: &Message<'_>,
    c: &Candidate,
    key: &MacKey,
    policy: &Policy,
    now: i64,
) -> Result<Verified, SignatureError> {
    verify_one(msg, c, key, policy, now)?;
    Ok(Verified { label: c.label.clone(), params: c.params.clone() })
}

/// The signature base of a parsed candidate over `msg` (as the verifier
/// rebuilds it).
pub fn candidate_base(msg: &Message<'_>, c: &Candidate) -> Result<String, SignatureError> {
    base::signature_base(msg, &c.params.components, &c.signature_params)
}
