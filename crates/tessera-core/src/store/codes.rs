//! Authorization codes (RFC 6749 §4.1.2), stored as digests, single use.

use async_trait::async_trait;

use super::StoreError;
use crate::amr::AmrSet;
use crate::ids::{ClientId, UserId};
use crate::pkce::CodeChallenge;
use crate::scope::ScopeSet;
use crate::secret::Digest;

/// An authorization code as stored (RFC 6749 §4.1.2) with everything the
/// token endpoint must check it against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthCode {
    pub digest: Digest,
    pub client_id: ClientId,
    pub user_id: UserId,
    /// The grant the redemption creates; replay revokes it.
    pub grant_id: String,
    pub redirect_uri: String,
    /// RFC 7636 S256 challenge; parsed when the row is read.
    pub code_challenge: CodeChallenge,
    /// Parsed when the row is read; stored as the scope string.
    pub scope: ScopeSet,
    pub audience: Vec<String>,
    pub nonce: Option<String>,
    pub auth_time: i64,
    pub amr: AmrSet,
    pub session_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    /// The `dpop_jkt` of the authorization request (RFC 9449 §10): the
    /// code is redeemed only with a proof by that key. `None`: not bound.
    pub dpop_jkt: Option<String>,
}

/// The outcome of [`CodeStore::redeem_code`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redemption {
    /// First use: the code is now consumed and its grant stored.
    Redeemed(AuthCode),
    /// The code was used before: a replay (RFC 6749 §4.1.2).
    Replayed(AuthCode),
    /// Issued to another client: left untouched.
    WrongClient,
    /// No such code, or expired.
    Unknown,
}

/// Authorization codes.
///
/// Atomicity: [`CodeStore::redeem_code`] is one commit: of any number of
/// concurrent redemptions of one code, across processes, exactly one gets
/// `Redeemed` (and its grant is stored in the same commit); the others get
/// `Replayed`. A spent code is remembered a day past its expiry so a late
/// replay is still recognised.
#[async_trait]
pub trait CodeStore: Send + Sync {
    /// Returns only after the commit. [`StoreError::Conflict`] if the digest is taken.
    async fn insert_code(&self, code: &AuthCode) -> Result<(), StoreError>;
    /// If the code is unused, unexpired and issued to `client_id`: marks it
    /// used and stores its grant (id, user, client, scope and session from
    /// the code; created `now`, expiring `grant_expires_at`), atomically.
    async fn redeem_code(
        &self,
        digest: &Digest,
        client_id: &ClientId,
        now: i64,
        grant_expires_at: i64,
    ) -> Result<Redemption, StoreError>;
}
