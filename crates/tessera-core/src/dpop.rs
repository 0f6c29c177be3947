//! DPoP at the token endpoint (RFC 9449 §5, §8): the request's proof is
//! checked before any grant runs, and its key is what the tokens are bound
//! to; and at UserInfo (§7), where a bound access token is accepted only
//! with a proof of its key carrying the token's hash (`ath`). The proof
//! checks themselves are `tessera_pop::dpop`'s; this part holds what they
//! are checked against here: the token endpoint's and UserInfo's URLs,
//! built once from the configured issuer (never from `Host` or
//! `X-Forwarded-*`), the server nonces (stateless, under a key derived from
//! the master key, so every node accepts every other node's), the nonce
//! policy and the replay cache (injected: cluster-wide in production).

use std::sync::Arc;
use std::time::Duration;

use tessera_pop::dpop::{DpopAlg, DpopError, ErrorKind, Expectation, IatWindow, NonceRule, TargetUri};
use tessera_pop::nonce::NonceIssuer;
use tessera_pop::replay::{MemoryReplayCache, ReplayCache};
use tessera_proto::ErrorCode;

use crate::client::{Client, TokenBinding};
use crate::error::OAuthError;
use crate::keys::MasterKey;

/// Whether a proof at the token endpoint and UserInfo must carry a server nonce.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NonceMode {
    /// Every proof carries a fresh `DPoP-Nonce` (RFC 9449 §8): a proof
    /// cannot be made ahead of time.
    #[default]
    Required,
    /// A nonce is checked when the proof carries one.
    Optional,
}

impl NonceMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Required => "required",
            Self::Optional => "optional",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Required, Self::Optional].into_iter().find(|m| m.as_str() == s)
    }
}

/// The algorithms a proof may be signed with (`dpop_signing_alg_values_supported`).
pub const ALGORITHMS: [DpopAlg; 5] = DpopAlg::ALL;
/// A nonce is accepted in the window it was issued in and the next.
pub const NONCE_WINDOW: Duration = Duration::from_secs(300);
/// Live proofs the in-memory replay cache holds at most (it refuses, with
/// 503, rather than forget a live one).
pub const MEMORY_REPLAY_CAPACITY: usize = 1_000_000;
/// The label of the nonce key derived from the master key.
const NONCE_KEY_LABEL: &str = "tessera dpop nonce v1";

/// The DPoP checks of the token endpoint and of UserInfo.
pub struct TokenDpop {
    target: TargetUri,
    userinfo: TargetUri,
    nonces: NonceIssuer,
    mode: NonceMode,
    replay: Arc<dyn ReplayCache>,
}

impl std::fmt::Debug for TokenDpop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenDpop").field("target", &self.target).field("mode", &self.mode).finish_non_exhaustive()
    }
}

impl TokenDpop {
    /// `issuer`: the configured issuer, the base of the token endpoint and UserInfo URLs.
    pub fn new(
        issuer: &str,
        master: &MasterKey,
        mode: NonceMode,
        replay: Arc<dyn ReplayCache>,
    ) -> Result<Self, tessera_pop::dpop::InvalidTargetUri> {
        let base = issuer.trim_end_matches('/');
        let target = TargetUri::new(&format!("{base}/oauth2/token"))?;
        let userinfo = TargetUri::new(&format!("{base}/oauth2/userinfo"))?;
        let nonces = NonceIssuer::new(*master.derive(NONCE_KEY_LABEL), NONCE_WINDOW);
        Ok(Self { target, userinfo, nonces, mode, replay })
    }

    /// The same checks with another replay cache.
    pub fn with_replay_cache(self, replay: Arc<dyn ReplayCache>) -> Self {
        Self { replay, ..self }
    }

    /// The default replay cache of one process.
    pub fn memory_replay_cache() -> Arc<dyn ReplayCache> {
        Arc::new(MemoryReplayCache::new(MEMORY_REPLAY_CAPACITY))
    }

    /// The token endpoint URL proofs must name in `htu`.
    pub fn target(&self) -> &TargetUri {
        &self.target
    }

    /// A fresh nonce, for the `DPoP-Nonce` header.
    pub fn nonce(&self, now: i64) -> String {
        self.nonces.issue(now)
    }

    /// Checks the request's `DPoP` header values (none, one or more) for
    /// `client`: the key the tokens are to be bound to, `None` for a bearer
    /// request. A client registered for DPoP must send a proof.
    pub async fn check<V: AsRef<[u8]>>(
        &self,
        values: &[V],
        client: &Client,
        now: i64,
    ) -> Result<Option<String>, OAuthError> {
        if values.is_empty() {
            return match client.settings.token_binding {
                TokenBinding::Bearer => Ok(None),
                TokenBinding::Dpop => {
                    Err(OAuthError::new(ErrorCode::InvalidDpopProof, "this client's tokens must be DPoP-bound"))
                }
            };
        }
        let proof = Presented { method: "POST", target: &self.target, access_token: None, bound_jkt: None };
        self.verify(values, proof, now).await.map(Some)
    }

    /// Checks the `DPoP` header values sent to UserInfo with `access_token`,
    /// which is bound to `bound_jkt` (RFC 9449 §7): `htm` is the request's
    /// `method`, `htu` UserInfo's configured URL, `ath` the token's hash, and
    /// the proof must be signed by the token's key. Nonces and the replay
    /// cache are the token endpoint's.
    pub async fn check_userinfo<V: AsRef<[u8]>>(
        &self,
        values: &[V],
        method: &str,
        access_token: &str,
        bound_jkt: &str,
        now: i64,
    ) -> Result<(), OAuthError> {
        let proof =
            Presented { method, target: &self.userinfo, access_token: Some(access_token), bound_jkt: Some(bound_jkt) };
        self.verify(values, proof, now).await.map(|_| ())
    }

    /// Every §4.3 check against `proof`, under this server's nonce policy
    /// and replay cache: the proof's key thumbprint.
    async fn verify<V: AsRef<[u8]>>(&self, values: &[V], proof: Presented<'_>, now: i64) -> Result<String, OAuthError> {
        let check = |n: &str| self.nonces.check(n, now);
        let expect = Expectation {
            method: proof.method,
            target: proof.target,
            access_token: proof.access_token,
            bound_jkt: proof.bound_jkt,
            algorithms: &ALGORITHMS,
            iat_window: IatWindow::default(),
            nonce: match self.mode {
                NonceMode::Required => NonceRule::Required(&check),
                NonceMode::Optional => NonceRule::IfPresent(&check),
            },
            now,
            replay: self.replay.as_ref(),
        };
        match tessera_pop::dpop::verify_proof(values, &expect).await {
            Ok(proof) => Ok(proof.jkt),
            Err(e) => Err(refusal(&e)),
        }
    }
}

/// What one request's proof must match besides the server-wide rules.
#[derive(Clone, Copy)]
struct Presented<'a> {
    method: &'a str,
    target: &'a TargetUri,
    access_token: Option<&'a str>,
    bound_jkt: Option<&'a str>,
}

/// RFC 9449 §7.1 / §8 error codes; the reason stays in the log.
fn refusal(e: &DpopError) -> OAuthError {
    let (code, description) = match e.kind() {
        ErrorKind::InvalidProof => (ErrorCode::InvalidDpopProof, "the DPoP proof is not valid"),
        ErrorKind::UseNonce => (ErrorCode::UseDpopNonce, "the DPoP proof must carry the server nonce from DPoP-Nonce"),
        ErrorKind::Unavailable => {
            (ErrorCode::TemporarilyUnavailable, "the authorization server is temporarily unavailable")
        }
    };
    let mut out = OAuthError::new(code, description);
    out.cause = Some(e.to_string());
    out
}
