//! Browser sessions: password sign-in with throttling, the session behind
//! a cookie, and signing out (OpenID Connect RP-Initiated Logout 1.0).
//!
//! The cookie holds `tsr_ss_` + 256 random bits; the store has its digest.
//! Unknown usernames and wrong passwords get the same answer after the same
//! work (a dummy argon2 verification), so neither timing nor wording tells
//! which usernames exist.

use crate::authority::Authority;
use crate::endpoint::authorize::SignedIn;
use crate::error::OAuthError;
use crate::redirect_uri::{self, VerifiedRedirectUri};
use crate::secret::{SESSION_PREFIX, Secret};
use crate::store::{Session, StoreError};
use crate::token::id_token;
use crate::user::normalize_username;

/// Why a sign-in failed. The message shown never says which check failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginError {
    /// Unknown user, wrong password or disabled account.
    Invalid,
    /// Too many failures: try again after this many seconds.
    Throttled(i64),
    Unavailable(String),
}

impl From<StoreError> for LoginError {
    fn from(e: StoreError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

impl Authority {
    /// Checks a username and password; on success stores a new session and
    /// returns the cookie value with it. `ip` keys the per-address throttle.
    pub async fn login(&self, username: &str, password: &str, ip: &str) -> Result<(Secret, SignedIn), LoginError> {
        let now = self.now();
        let account_key = format!("user:{}", normalize_username(username));
        let ip_key = format!("ip:{ip}");
        let wait = self.throttle.wait(&account_key, now).max(self.throttle.wait(&ip_key, now));
        if wait > 0 {
            return Err(LoginError::Throttled(wait));
        }
        let user = self.store().find_user(&normalize_username(username)).await?;
        let ok = match &user {
            Some(u) => {
                self.passwords
                    .verify(password, &u.password_hash)
                    .await
                    .map_err(|e| LoginError::Unavailable(e.to_string()))?
                    && !u.disabled
            }
            None => {
                self.passwords.verify_dummy(password).await.map_err(|e| LoginError::Unavailable(e.to_string()))?;
                false
            }
        };
        let Some(user) = user.filter(|_| ok) else {
            self.throttle.failure(&account_key, now);
            self.throttle.failure(&ip_key, now);
            tracing::info!(username = %normalize_username(username), %ip, "sign-in failed");
            return Err(LoginError::Invalid);
        };
        self.throttle.success(&account_key);
        let secret = Secret::generate(self.rng(), SESSION_PREFIX);
        let mut id = [0u8; 16];
        self.rng().fill(&mut id);
        let session = Session {
            id: hex::encode(id),
            digest: secret.digest(),
            user_id: user.id.clone(),
            auth_time: now,
            amr: "pwd".into(),
            created_at: now,
            expires_at: now + self.settings().session_ttl,
        };
        self.store().insert_session(&session).await?;
        tracing::info!(user = %user.username, session = %session.id, "signed in");
        Ok((secret, SignedIn { session, user }))
    }

    /// The live session behind a cookie value, if any: unexpired, and its
    /// user still exists and is enabled.
    pub async fn session(&self, cookie: &str) -> Result<Option<SignedIn>, OAuthError> {
        if !cookie.starts_with(SESSION_PREFIX) || cookie.len() > 100 {
            return Ok(None);
        }
        let digest = Secret::new(cookie).digest();
        let Some(session) = self.store().get_session(&digest).await? else { return Ok(None) };
        if self.now() >= session.expires_at {
            return Ok(None);
        }
        let Some(user) = self.store().get_user(&session.user_id).await? else { return Ok(None) };
        if user.disabled {
            return Ok(None);
        }
        Ok(Some(SignedIn { session, user }))
    }

    /// Ends the session behind a cookie (if any).
    pub async fn end_session(&self, cookie: &str) -> Result<(), OAuthError> {
        if cookie.starts_with(SESSION_PREFIX) && cookie.len() <= 100 {
            self.store().delete_session(&Secret::new(cookie).digest()).await?;
        }
        Ok(())
    }

    /// RP-Initiated Logout §2–3: where the browser may go afterwards. A
    /// `post_logout_redirect_uri` must be registered, exactly, for the client
    /// named by `client_id` or the `id_token_hint`'s audience; anything else
    /// is an error shown on our page, never a redirect.
    pub async fn logout_target(
        &self,
        client_id: Option<&str>,
        id_token_hint: Option<&str>,
        post_logout_redirect_uri: Option<&str>,
    ) -> Result<Option<VerifiedRedirectUri>, OAuthError> {
        let hinted = match id_token_hint {
            Some(t) => {
                let keys = self.keys().await?;
                let claims = id_token::verify_hint(&keys, &self.settings().issuer, t, self.now())
                    .ok_or_else(|| OAuthError::invalid_request("id_token_hint is not an ID token from this server"))?;
                Some(claims.aud)
            }
            None => None,
        };
        let client_id = match (client_id, hinted.as_deref()) {
            (Some(c), Some(h)) if c != h => {
                return Err(OAuthError::invalid_request("client_id does not match the id_token_hint"));
            }
            (Some(c), _) => Some(c.to_string()),
            (None, h) => h.map(str::to_string),
        };
        let Some(uri) = post_logout_redirect_uri else { return Ok(None) };
        let Some(client_id) = client_id else {
            return Err(OAuthError::invalid_request("post_logout_redirect_uri needs client_id or id_token_hint"));
        };
        let client = self.client(&client_id).await?.ok_or_else(|| OAuthError::invalid_request("unknown client_id"))?;
        redirect_uri::match_exact(&client.settings.post_logout_redirect_uris, uri).map(Some)
    }
}
