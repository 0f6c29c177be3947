//! Operator actions on users and grants that must also revoke tokens, so
//! the CLI, the admin API and the server all do them the same way.

use crate::clock::Clock;
use crate::error::OAuthError;
use crate::ids::UserId;
use crate::revocations::Revocations;
use crate::store::{Grant, GrantFilter, Store, User};

/// The parts operator actions use: the store (users, sessions, grants),
/// revocations and the clock.
#[derive(Clone, Copy)]
pub struct Admin<'a> {
    pub store: &'a dyn Store,
    pub clock: &'a dyn Clock,
    pub revocations: &'a Revocations,
}

impl Admin<'_> {
    /// Disables (or re-enables) a user. Disabling ends their sessions and
    /// revokes every grant, so their tokens stop working at once.
    /// Returns how many grants were revoked; `None` if there is no such user.
    pub async fn set_user_disabled(&self, user: &User, disabled: bool) -> Result<u64, OAuthError> {
        let mut u = user.clone();
        u.disabled = disabled;
        u.updated_at = self.clock.now();
        if !self.store.update_user(&u).await? {
            return Err(OAuthError::invalid_request("no such user"));
        }
        if !disabled {
            return Ok(0);
        }
        self.end_user(&u.id).await
    }

    /// Deletes a user after revoking their grants and ending their sessions.
    pub async fn delete_user(&self, user: &User) -> Result<u64, OAuthError> {
        let n = self.end_user(&user.id).await?;
        self.store.delete_user(&user.id).await?;
        Ok(n)
    }

    /// A new password ends the user's sessions and revokes their grants with
    /// every access and refresh token: whoever knew the old one is out, on
    /// every device. Returns how many grants were revoked.
    pub async fn set_password(&self, user: &User, password_hash: String) -> Result<u64, OAuthError> {
        let mut u = user.clone();
        u.password_hash = password_hash;
        u.updated_at = self.clock.now();
        if !self.store.update_user(&u).await? {
            return Err(OAuthError::invalid_request("no such user"));
        }
        self.end_user(&u.id).await
    }

    async fn end_user(&self, user_id: &UserId) -> Result<u64, OAuthError> {
        self.store.delete_user_sessions(user_id).await?;
        let grants = self.store.list_grants(&GrantFilter { user_id: Some(user_id.clone()), client_id: None }).await?;
        for g in &grants {
            self.revocations.revoke_grant(&g.id, &g.client_id).await?;
        }
        Ok(grants.len() as u64)
    }

    /// `tessera grant revoke ID`: every token of the grant stops working.
    pub async fn revoke_grant_by_id(&self, id: &str) -> Result<Option<Grant>, OAuthError> {
        let Some(g) = self.store.get_grant(id).await? else { return Ok(None) };
        self.revocations.revoke_grant(&g.id, &g.client_id).await?;
        Ok(Some(g))
    }
}
