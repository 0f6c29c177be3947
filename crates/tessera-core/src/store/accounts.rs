//! What the sign-in flows store: users, the scope registry, browser
//! sessions, remembered consent, authorization codes and grants.
//!
//! Rules on top of those in [`super`]:
//! - session cookies and codes are stored as [`Digest`]s only;
//! - [`AccountStore::redeem_code`] is atomic: of any number of concurrent
//!   redemptions of one code, across processes, exactly one succeeds;
//! - revoking a grant ([`super::RevokedToken::Grant`]) deletes the grant and
//!   its opaque tokens and enters it in the revocation feed, in one commit.

use async_trait::async_trait;

use super::StoreError;
use crate::secret::Digest;

/// A person who signs in. The password is an argon2id PHC string.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    /// Lower-case, unique.
    pub username: String,
    pub email: String,
    pub name: Option<String>,
    pub password_hash: String,
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

/// A registered scope and the sentence the consent page shows for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeInfo {
    pub name: String,
    pub description: String,
    pub created_at: i64,
}

/// A signed-in browser. The cookie holds a secret whose digest is `digest`;
/// `id` is public (the ID token's `sid`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    pub digest: Digest,
    pub user_id: String,
    pub auth_time: i64,
    /// RFC 8176 method references, space-separated (`pwd`).
    pub amr: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// What a user allowed a client, remembered so they are asked once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    pub user_id: String,
    pub client_id: String,
    pub scope: String,
    pub granted_at: i64,
}

/// An authorization code as stored (RFC 6749 §4.1.2) with everything the
/// token endpoint must check it against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthCode {
    pub digest: Digest,
    pub client_id: String,
    pub user_id: String,
    /// The grant the redemption creates; replay revokes it.
    pub grant_id: String,
    pub redirect_uri: String,
    /// RFC 7636 S256 challenge.
    pub code_challenge: String,
    pub scope: String,
    pub audience: Vec<String>,
    pub nonce: Option<String>,
    pub auth_time: i64,
    pub amr: String,
    pub session_id: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// One authorization of a client by a user: every token issued from it
/// carries its id, so revoking the grant revokes them all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub id: String,
    pub user_id: String,
    pub client_id: String,
    pub scope: String,
    pub session_id: Option<String>,
    pub created_at: i64,
    /// After this no token of the grant can be valid; then it is purged.
    pub expires_at: i64,
}

/// The outcome of [`AccountStore::redeem_code`].
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

/// Filters for [`AccountStore::list_grants`].
#[derive(Debug, Clone, Default)]
pub struct GrantFilter {
    pub user_id: Option<String>,
    pub client_id: Option<String>,
}

#[async_trait]
pub trait AccountStore: Send + Sync {
    // Users.
    /// [`StoreError::Conflict`] if the username or id is taken.
    async fn insert_user(&self, user: &User) -> Result<(), StoreError>;
    async fn get_user(&self, id: &str) -> Result<Option<User>, StoreError>;
    async fn find_user(&self, username: &str) -> Result<Option<User>, StoreError>;
    async fn list_users(&self) -> Result<Vec<User>, StoreError>;
    /// Replaces email, name, password hash and disabled flag; `false` if absent.
    async fn update_user(&self, user: &User) -> Result<bool, StoreError>;
    /// Deletes the user with their sessions and consents; `false` if absent.
    async fn delete_user(&self, id: &str) -> Result<bool, StoreError>;

    // Scope registry.
    async fn insert_scope(&self, scope: &ScopeInfo) -> Result<(), StoreError>;
    async fn list_scopes(&self) -> Result<Vec<ScopeInfo>, StoreError>;
    async fn delete_scope(&self, name: &str) -> Result<bool, StoreError>;

    // Browser sessions.
    async fn insert_session(&self, session: &Session) -> Result<(), StoreError>;
    async fn get_session(&self, digest: &Digest) -> Result<Option<Session>, StoreError>;
    async fn delete_session(&self, digest: &Digest) -> Result<bool, StoreError>;
    async fn list_sessions(&self, user_id: &str) -> Result<Vec<Session>, StoreError>;
    async fn delete_user_sessions(&self, user_id: &str) -> Result<u64, StoreError>;

    // Remembered consent.
    async fn put_consent(&self, consent: &Consent) -> Result<(), StoreError>;
    async fn get_consent(&self, user_id: &str, client_id: &str) -> Result<Option<Consent>, StoreError>;

    // Authorization codes.
    async fn insert_code(&self, code: &AuthCode) -> Result<(), StoreError>;
    /// If the code is unused, unexpired and issued to `client_id`: marks it
    /// used and stores its grant (id, user, client, scope and session from
    /// the code; created `now`, expiring `grant_expires_at`), atomically.
    async fn redeem_code(
        &self,
        digest: &Digest,
        client_id: &str,
        now: i64,
        grant_expires_at: i64,
    ) -> Result<Redemption, StoreError>;

    // Grants (revoked through [`super::Store::revoke`]).
    /// A grant made without a code (the implicit grant).
    async fn insert_grant(&self, grant: &Grant) -> Result<(), StoreError>;
    async fn get_grant(&self, id: &str) -> Result<Option<Grant>, StoreError>;
    async fn list_grants(&self, filter: &GrantFilter) -> Result<Vec<Grant>, StoreError>;
}

/// A refresh token as stored (RFC 6749 §6): its digest, never the token.
/// Tokens of one grant form a family; rotating one issues its successor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub digest: Digest,
    /// The family: the grant every token issued under it carries.
    pub grant_id: String,
    pub client_id: String,
    pub user_id: String,
    pub scope: String,
    pub audience: Vec<String>,
    pub auth_time: i64,
    pub issued_at: i64,
    /// Idle expiry, never past `family_expires_at`.
    pub expires_at: i64,
    /// Absolute end of the family.
    pub family_expires_at: i64,
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
/// the write are one atomic step against [`super::Store::revoke`] of the
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
