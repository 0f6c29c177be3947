//! RFC 9449 DPoP proofs: checking one (authorization server and resource
//! server, §4.3) and making one (client, §4.2).
//!
//! [`verify_proof`] runs the §4.3 checks in order, each with its own
//! [`DpopError`], cheapest and least trusting first: header count and size
//! before any parsing, the header before the key, the key before the
//! signature, the signature before any claim is believed, and the replay
//! cache last, so that invalid proofs never fill it. What a proof is
//! checked against is an [`Expectation`] the caller builds from its
//! configuration: the URL comes from the configured issuer or resource URL
//! ([`TargetUri`]), never from `Host`.
//!
//! Binding a token to the returned `jkt`, and comparing a presented token's
//! `cnf.jkt` ([`Expectation::bound_jkt`]), are the callers' business; so is
//! choosing the HTTP status: see [`DpopError::kind`].

mod htu;
mod jws;
mod key;

use aws_lc_rs::digest;
use base64ct::{Base64UrlUnpadded, Encoding};
use serde::Deserialize;
use subtle::ConstantTimeEq;

pub use htu::{InvalidTargetUri, TargetUri};
pub use key::{KeyError, ProofKey, generate_pkcs8, make_proof};

use crate::replay::{ReplayCache, ReplayError};

/// Proofs longer than this are refused before they are parsed.
pub const MAX_PROOF_LEN: usize = 8 * 1024;
/// A `jti` longer than this is refused (random ids are 22–44 characters).
pub const MAX_JTI_LEN: usize = 256;
/// The proof's `typ` header (§4.2).
pub const DPOP_TYP: &str = "dpop+jwt";

/// The JWS algorithms a proof may use: asymmetric only, never `none` or an
/// HMAC (§4.3 point 5). Names are exact and case-sensitive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DpopAlg {
    EdDSA,
    ES256,
    ES384,
    PS256,
    RS256,
}

impl DpopAlg {
    pub const ALL: [DpopAlg; 5] = [Self::EdDSA, Self::ES256, Self::ES384, Self::PS256, Self::RS256];

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }

    /// The JOSE name, as listed in `dpop_signing_alg_values_supported`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EdDSA => "EdDSA",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::PS256 => "PS256",
            Self::RS256 => "RS256",
        }
    }
}

/// How far `iat` may be from now, in seconds (§4.3 point 11, §11.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IatWindow {
    /// Accepted when `iat >= now - past`.
    pub past: i64,
    /// Accepted when `iat <= now + future` (clock skew).
    pub future: i64,
}

impl Default for IatWindow {
    fn default() -> Self {
        Self { past: 60, future: 5 }
    }
}

/// Whether the proof must carry a server nonce (§8, §9). The check is the
/// caller's (usually [`crate::nonce::NonceIssuer::check`] at the current
/// time): it returns true for a nonce it accepts.
#[derive(Clone, Copy)]
pub enum NonceRule<'a> {
    /// Nonces are not used here: a `nonce` claim is ignored.
    NotUsed,
    /// A proof without a nonce passes; one with a nonce must pass the check.
    IfPresent(&'a (dyn Fn(&str) -> bool + Sync)),
    /// Every proof must carry a nonce that passes the check.
    Required(&'a (dyn Fn(&str) -> bool + Sync)),
}

impl std::fmt::Debug for NonceRule<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::NotUsed => "NotUsed",
            Self::IfPresent(_) => "IfPresent",
            Self::Required(_) => "Required",
        })
    }
}

/// What one request's proof must match.
#[derive(Clone, Copy)]
pub struct Expectation<'a> {
    /// The request method, exactly as received (`POST`).
    pub method: &'a str,
    /// The request URL, built from configuration.
    pub target: &'a TargetUri,
    /// The access token the request presents (`Authorization: DPoP …`):
    /// the proof must then carry its `ath`.
    pub access_token: Option<&'a str>,
    /// The `cnf.jkt` the presented token (or refresh token, or code) is
    /// bound to: the proof must be signed by that key.
    pub bound_jkt: Option<&'a str>,
    pub algorithms: &'a [DpopAlg],
    pub iat_window: IatWindow,
    pub nonce: NonceRule<'a>,
    /// Unix seconds.
    pub now: i64,
    pub replay: &'a dyn ReplayCache,
}

impl std::fmt::Debug for Expectation<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Expectation")
            .field("method", &self.method)
            .field("target", &self.target)
            .field("access_token", &self.access_token.map(|_| "[redacted]"))
            .field("bound_jkt", &self.bound_jkt)
            .field("algorithms", &self.algorithms)
            .field("iat_window", &self.iat_window)
            .field("nonce", &self.nonce)
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

/// A proof that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProof {
    /// RFC 7638 SHA-256 thumbprint of the proof's key (`cnf.jkt`).
    pub jkt: String,
    pub jti: String,
    pub iat: i64,
    pub nonce: Option<String>,
    pub alg: DpopAlg,
    /// The key the replay cache holds for this proof: SHA-256 over the
    /// thumbprint, method, normalised URL and `jti` (a `jti` need only be
    /// unique per key and target, §11.1; a fixed 32 bytes whatever its size).
    pub replay_key: [u8; 32],
}

/// How a refusal is answered (§7.1, §8, §12.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// `invalid_dpop_proof`: 400 at the token endpoint, 401 at a resource.
    InvalidProof,
    /// `use_dpop_nonce`, sent with a fresh `DPoP-Nonce` header.
    UseNonce,
    /// The replay cache could not answer: nothing is wrong with the proof,
    /// but it cannot be accepted now (503).
    Unavailable,
}

/// Why a proof was refused. The messages are for logs; a client sees only
/// the [`DpopError::error_code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DpopError {
    #[error("no DPoP header")]
    Missing,
    #[error("more than one DPoP header (or one holding a list)")]
    MultipleHeaders,
    #[error("DPoP proof is longer than {MAX_PROOF_LEN} bytes")]
    TooLarge,
    #[error("not a compact JWS with a JSON header and claims")]
    Malformed,
    #[error("typ is not dpop+jwt")]
    WrongType,
    #[error("algorithm {0:?} is not accepted")]
    Algorithm(String),
    #[error("header has crit extensions")]
    Critical,
    #[error("header has no jwk")]
    MissingJwk,
    #[error("jwk has private key members")]
    PrivateKey,
    #[error("jwk is not a usable public key")]
    BadKey,
    #[error("jwk key type or curve does not fit the algorithm")]
    KeyAlgorithmMismatch,
    #[error("signature does not verify with the header's jwk")]
    BadSignature,
    #[error("claim {0} is missing")]
    MissingClaim(&'static str),
    #[error("jti is empty or longer than {MAX_JTI_LEN} bytes")]
    BadJti,
    #[error("htm does not match the request method")]
    WrongMethod,
    #[error("htu does not match the request URL")]
    WrongUrl,
    #[error("iat is too far in the past")]
    Stale,
    #[error("iat is in the future")]
    Future,
    #[error("an access token is presented but the proof has no ath")]
    MissingAth,
    #[error("ath is not the hash of the presented access token")]
    WrongAth,
    #[error("proof is signed by another key than the token is bound to")]
    WrongKey,
    #[error("a server nonce is required")]
    NonceMissing,
    #[error("the nonce is not one of ours, or it is stale")]
    NonceInvalid,
    #[error("jti already used (replayed proof)")]
    Replayed,
    #[error(transparent)]
    ReplayCache(#[from] ReplayError),
}

impl DpopError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::NonceMissing | Self::NonceInvalid => ErrorKind::UseNonce,
            Self::ReplayCache(_) => ErrorKind::Unavailable,
            _ => ErrorKind::InvalidProof,
        }
    }

    /// The OAuth error code (RFC 9449 §12.2; `temporarily_unavailable` when
    /// the replay cache cannot answer).
    pub fn error_code(&self) -> &'static str {
        match self.kind() {
            ErrorKind::InvalidProof => "invalid_dpop_proof",
            ErrorKind::UseNonce => "use_dpop_nonce",
            ErrorKind::Unavailable => "temporarily_unavailable",
        }
    }
}

/// `ath` (§4.2): base64url(SHA-256(access token)).
pub fn ath(access_token: &str) -> String {
    Base64UrlUnpadded::encode_string(digest::digest(&digest::SHA256, access_token.as_bytes()).as_ref())
}

#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    jti: Option<String>,
    #[serde(default)]
    htm: Option<String>,
    #[serde(default)]
    htu: Option<String>,
    #[serde(default)]
    iat: Option<serde_json::Number>,
    #[serde(default)]
    ath: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
}

/// Every check of §4.3, the replay cache included. `values` are all the
/// `DPoP` header values of the request (exactly one is accepted).
pub async fn verify_proof<V: AsRef<[u8]>>(values: &[V], expect: &Expectation<'_>) -> Result<VerifiedProof, DpopError> {
    let proof = check_proof(values, expect)?;
    let expires_at = proof.iat.saturating_add(expect.iat_window.past);
    if expect.replay.first_use(&proof.replay_key, expires_at, expect.now).await? {
        Ok(proof)
    } else {
        Err(DpopError::Replayed)
    }
}

/// Every check of §4.3 except the replay cache (`expect.replay` is not
/// used): for callers that record the `jti` themselves, e.g. in the same
/// transaction as what the proof authorises. They must insert
/// [`VerifiedProof::replay_key`] until `iat + iat_window.past`.
pub fn check_proof<V: AsRef<[u8]>>(values: &[V], expect: &Expectation<'_>) -> Result<VerifiedProof, DpopError> {
    let proof = match values {
        [] => return Err(DpopError::Missing),
        [one] => one.as_ref(),
        _ => return Err(DpopError::MultipleHeaders),
    };
    if proof.len() > MAX_PROOF_LEN {
        return Err(DpopError::TooLarge);
    }
    if proof.contains(&b',') {
        // Two header lines folded into one by a proxy.
        return Err(DpopError::MultipleHeaders);
    }
    let proof = std::str::from_utf8(proof).map_err(|_| DpopError::Malformed)?;
    let (signing_input, signature) = proof.rsplit_once('.').ok_or(DpopError::Malformed)?;
    let (header, payload) = signing_input.split_once('.').ok_or(DpopError::Malformed)?;
    let header = Base64UrlUnpadded::decode_vec(header).map_err(|_| DpopError::Malformed)?;
    let header: jws::Header = serde_json::from_slice(&header).map_err(|_| DpopError::Malformed)?;

    let typ = header.typ.as_deref().unwrap_or("");
    let typ = typ.strip_prefix("application/").unwrap_or(typ);
    if !typ.eq_ignore_ascii_case(DPOP_TYP) {
        return Err(DpopError::WrongType);
    }
    let alg = DpopAlg::from_name(&header.alg)
        .filter(|a| expect.algorithms.contains(a))
        .ok_or_else(|| DpopError::Algorithm(header.alg.chars().take(16).collect()))?;
    if header.crit {
        return Err(DpopError::Critical);
    }
    let jwk = header.jwk.as_ref().ok_or(DpopError::MissingJwk)?;
    if jwk.has_private_members() {
        return Err(DpopError::PrivateKey);
    }
    let public = jwk.public()?;
    let key = jws::VerifyKey::new(alg, &public)?;
    let signature = Base64UrlUnpadded::decode_vec(signature).map_err(|_| DpopError::Malformed)?;
    key.verify(signing_input.as_bytes(), &signature)?;
    let jkt = public.thumbprint();

    let payload = Base64UrlUnpadded::decode_vec(payload).map_err(|_| DpopError::Malformed)?;
    let claims: Claims = serde_json::from_slice(&payload).map_err(|_| DpopError::Malformed)?;
    let jti = claims.jti.ok_or(DpopError::MissingClaim("jti"))?;
    let htm = claims.htm.ok_or(DpopError::MissingClaim("htm"))?;
    let htu = claims.htu.ok_or(DpopError::MissingClaim("htu"))?;
    let iat = claims.iat.ok_or(DpopError::MissingClaim("iat"))?;
    let iat = numeric_date(&iat).ok_or(DpopError::Malformed)?;
    if jti.is_empty() || jti.len() > MAX_JTI_LEN {
        return Err(DpopError::BadJti);
    }
    if htm != expect.method {
        return Err(DpopError::WrongMethod);
    }
    if htu::normalize(&htu).as_deref() != Some(expect.target.as_str()) {
        return Err(DpopError::WrongUrl);
    }
    if iat < expect.now.saturating_sub(expect.iat_window.past) {
        return Err(DpopError::Stale);
    }
    if iat > expect.now.saturating_add(expect.iat_window.future) {
        return Err(DpopError::Future);
    }
    if let Some(token) = expect.access_token {
        let got = claims.ath.ok_or(DpopError::MissingAth)?;
        if !bool::from(got.as_bytes().ct_eq(ath(token).as_bytes())) {
            return Err(DpopError::WrongAth);
        }
    }
    if let Some(bound) = expect.bound_jkt
        && !bool::from(bound.as_bytes().ct_eq(jkt.as_bytes()))
    {
        return Err(DpopError::WrongKey);
    }
    let nonce = match (expect.nonce, claims.nonce) {
        (NonceRule::NotUsed, _) => None,
        (NonceRule::Required(_), None) => return Err(DpopError::NonceMissing),
        (NonceRule::IfPresent(_), None) => None,
        (NonceRule::Required(check) | NonceRule::IfPresent(check), Some(n)) => {
            if !check(&n) {
                return Err(DpopError::NonceInvalid);
            }
            Some(n)
        }
    };
    let replay_key = replay_key(&jkt, expect.method, expect.target.as_str(), &jti);
    Ok(VerifiedProof { jkt, jti, iat, nonce, alg, replay_key })
}

/// NumericDate (RFC 7519 §2): seconds, possibly with a fraction (dropped).
fn numeric_date(n: &serde_json::Number) -> Option<i64> {
    n.as_i64().or_else(|| {
        let f = n.as_f64()?;
        // In range and finite: the cast then only drops the fraction.
        #[allow(clippy::cast_possible_truncation)]
        (f.is_finite() && f.abs() < 1e15).then(|| f.floor() as i64)
    })
}

fn replay_key(jkt: &str, htm: &str, htu: &str, jti: &str) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for part in ["dpop-jti", jkt, htm, htu, jti] {
        // Length-prefixed, so no two tuples give the same input.
        ctx.update(&(part.len() as u64).to_be_bytes());
        ctx.update(part.as_bytes());
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}
