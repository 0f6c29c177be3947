//! Refresh tokens (RFC 6749 §6; rotation as in the OAuth 2.1 draft §4.3.1):
//! stored as digests, each family bound to its grant.

use async_trait::async_trait;

use super::StoreError;
use crate::ids::{ClientId, UserId};
use crate::scope::ScopeSet;
use crate::secret::Digest;

/// A refresh token as stored (RFC 6749 §6): its digest, never the token.
/// Tokens of one grant form a family; rotating one issues its successor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub digest: Digest,
    /// The family: the grant every token issued under it carries.
    pub grant_id: String,
    pub client_id: ClientId,
    pub user_id: UserId,
    /// Parsed when the row is read; stored as the scope string.
    pub scope: ScopeSet,
    pub audience: Vec<String>,
    pub auth_time: i64,
    pub issued_at: i64,
    /// Idle expiry, never past `family_expires_at`.
    pub expires_at: i64,
    /// Absolute end of the family.
    pub family_expires_at: i64,
    /// The RFC 7638 thumbprint of the DPoP key the family is bound to
    /// (RFC 9449 §5: public clients); every successor inherits it. `None`:
    /// not bound.
    pub jkt: Option<String>,
}

/// A stored refresh token and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshState {
    pub token: RefreshToken,
    /// Set once it was rotated.
    pub rotated_at: Option<i64>,
    /// Until then a repeat gets `successor` back instead of counting as reuse.
    pub grace_until: i64,
    /// The successor's token response, sealed under the master key.
    pub successor: Option<Vec<u8>>,
    /// Whether its user exists and is not disabled, read with the token so a
    /// refresh costs one read (a grant made on another node while the user
    /// was being disabled is not revoked with them: this check catches it).
    pub user_active: bool,
}

/// The outcome of [`RefreshStore::rotate_refresh`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// This request rotated it: the successor is stored.
    Rotated,
    /// Another request rotated it first; its state, to answer as a retry or as reuse.
    AlreadyRotated(Box<RefreshState>),
    /// Unknown, expired, its family has ended, or its grant is gone.
    Gone,
}

/// Refresh-token storage. Rotation is atomic: of any number of concurrent
/// rotations of one token, across processes, exactly one returns `Rotated`.
///
/// A refresh token is only ever stored while its grant exists: the check and
/// the write are one atomic step against [`super::RevocationStore::revoke`] of the
/// grant, so a token written while its grant is being revoked (a code replay,
/// a user disabled, `grant revoke`, on any node) is either deleted with the
/// grant or never stored. Revocation entries expire; this rule does not.
#[async_trait]
pub trait RefreshStore: Send + Sync {
    /// Stores a family's first token; `false` (nothing stored) if its grant
    /// is gone. [`StoreError::Conflict`] if the digest is taken.
    async fn insert_refresh(&self, token: &RefreshToken) -> Result<bool, StoreError>;
    async fn get_refresh(&self, digest: &Digest) -> Result<Option<RefreshState>, StoreError>;
    /// If `old` is unrotated and unexpired at `now` (its own and its family's
    /// expiry; a revoked family has no tokens left) and `successor`'s grant
    /// still exists: marks it rotated (retry window until `grace_until`,
    /// `sealed` kept for retries) and stores `successor`, in one commit.
    /// If the grant is gone, nothing changes and the answer is `Gone`.
    async fn rotate_refresh(
        &self,
        old: &Digest,
        now: i64,
        grace_until: i64,
        sealed: &[u8],
        successor: &RefreshToken,
    ) -> Result<Rotation, StoreError>;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::client::NewClient;
    use crate::grant::refresh_token::successor_of;
    use crate::random::SeededRandom;

    /// A rotated token stays bound to its family's key (RFC 9449 §5): a
    /// successor that dropped the binding would be a bearer token.
    #[test]
    fn a_successor_inherits_its_familys_key_binding() {
        let rng = SeededRandom::new(1);
        let new = NewClient {
            id: Some("app".into()),
            name: "app".into(),
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            scope: "openid offline_access".into(),
            redirect_uris: vec!["https://app.example/cb".into()],
            public: true,
            ..Default::default()
        };
        let (client, _) = new.build(&rng, 100).unwrap();
        let family = RefreshToken {
            digest: Digest::of(b"first"),
            grant_id: "g1".into(),
            client_id: "app".into(),
            user_id: "u1".into(),
            scope: ScopeSet::parse("openid offline_access").unwrap(),
            audience: vec![],
            auth_time: 90,
            issued_at: 100,
            expires_at: 1_000,
            family_expires_at: 10_000,
            jkt: Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into()),
        };
        for jkt in [family.jkt.clone(), None] {
            let family = RefreshToken { jkt: jkt.clone(), ..family.clone() };
            let (_, next) = successor_of(&rng, 200_000, &client, &family, family.scope.clone(), 200);
            assert_eq!(next.jkt, jkt);
            assert_ne!(next.digest, family.digest);
        }
    }
}
