//! Browser sessions: password sign-in with throttling, the session behind
//! a cookie, and signing out (OpenID Connect RP-Initiated Logout 1.0).
//!
//! The cookie holds `tsr_ss_` + 256 random bits; the store has its digest.
//! Unknown usernames and wrong passwords get the same answer after the same
//! work (a dummy argon2 verification), so neither timing nor wording tells
//! which usernames exist.

use crate::amr::Amr;
use crate::clock::Clock;
use crate::endpoint::authorize::SignedIn;
use crate::error::{Cause, OAuthError};
use crate::issuer::TokenIssuer;
use crate::redirect_uri::{self, VerifiedRedirectUri};
use crate::registry::ClientRegistry;
use crate::secret::{SESSION_PREFIX, Secret};
use crate::sign_in::SignIn;
use crate::store::{Session, StoreError, User};
use crate::throttle;
use crate::token::id_token;
use crate::user::{normalize_username, validate_username};

/// Why a sign-in failed. The message shown never says which check failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginError {
    /// Unknown user, wrong password or disabled account.
    Invalid,
    /// Too many failures: try again after this many seconds.
    Throttled(i64),
    /// The store (or the password hashing pool) did not answer: try again later.
    Unavailable(Cause),
    /// A stored row could not be read: a retry reads the same row.
    Internal(Cause),
}

impl From<StoreError> for LoginError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Corrupt(_) => Self::Internal(Cause::new("sign-in", e)),
            StoreError::Unavailable(_) | StoreError::Conflict => Self::Unavailable(Cause::new("sign-in", e)),
        }
    }
}

/// Compare-and-swap rounds on shared counters before giving up.
const SWAP_TRIES: usize = 16;

impl SignIn {
    /// Checks a username and password; on success stores a new session and
    /// returns the cookie value with it. `ip` keys the per-address throttle.
    ///
    /// The attempt is counted against the account and the address before
    /// the password is checked and forgiven if it succeeds, so concurrent
    /// guesses cannot outrun the throttle.
    pub async fn login(&self, username: &str, password: &str, ip: &str) -> Result<(Secret, SignedIn), LoginError> {
        let now = self.clock.now();
        let ip_key = throttle::address_key(ip);
        let username = normalize_username(username);
        if validate_username(&username).is_err() {
            // No such account can exist: count the address only, and never
            // keep or log what was typed (it may be a password, or 64 KiB).
            self.throttle.begin(&[&ip_key], now).map_err(LoginError::Throttled)?;
            tracing::info!(ip = %ip_key, "sign-in failed: malformed username");
            return Err(LoginError::Invalid);
        }
        let account_key = format!("user:{username}");
        self.throttle.begin(&[&ip_key], now).map_err(LoginError::Throttled)?;
        if let Err(e) = self.begin_account_attempt(&account_key, now).await {
            // Not this address's fault: only the account refused it.
            self.throttle.forgive(&ip_key);
            return Err(e);
        }
        let outcome = self.check_password(&username, password).await;
        let user = match outcome {
            Ok(Some(user)) => user,
            Ok(None) => {
                tracing::info!(%username, ip = %ip_key, "sign-in failed");
                return Err(LoginError::Invalid);
            }
            Err(e) => {
                // Undecided (hashing busy, store down): the attempt is not held against anyone.
                self.throttle.forgive(&ip_key);
                self.settle_account_attempt(&account_key, false).await;
                return Err(e);
            }
        };
        self.throttle.forgive(&ip_key);
        self.settle_account_attempt(&account_key, true).await;
        let secret = Secret::generate(self.rng.as_ref(), SESSION_PREFIX);
        let mut id = [0u8; 16];
        self.rng.as_ref().fill(&mut id);
        let session = Session {
            id: hex::encode(id),
            digest: secret.digest(),
            user_id: user.id.clone(),
            auth_time: now,
            amr: Amr::Pwd.into(),
            created_at: now,
            expires_at: now + self.session_ttl,
        };
        self.store.insert_session(&session).await?;
        tracing::info!(user = %user.username, session = %session.id, "signed in");
        Ok((secret, SignedIn { session, user }))
    }

    /// Counts an attempt for an account in advance, on the shared counters
    /// when the store has them (every node then throttles alike).
    async fn begin_account_attempt(&self, key: &str, now: i64) -> Result<(), LoginError> {
        let Some(shared) = self.store.shared_attempts() else {
            return self.throttle.begin(&[key], now).map_err(LoginError::Throttled);
        };
        for _ in 0..SWAP_TRIES {
            let current = shared.get_attempts(key).await?;
            let next = throttle::admit(current, now).map_err(LoginError::Throttled)?;
            if shared.swap_attempts(key, current, Some(next)).await? {
                return Ok(());
            }
        }
        // Lost every race: others are trying this account right now.
        Err(LoginError::Throttled(1))
    }

    /// Takes back an attempt that could not be decided (`forget`: false),
    /// or forgets every failure of an account that signed in (`forget`: true).
    async fn settle_account_attempt(&self, key: &str, forget: bool) {
        let Some(shared) = self.store.shared_attempts() else {
            if forget {
                self.throttle.success(key);
            } else {
                self.throttle.forgive(key);
            }
            return;
        };
        for _ in 0..SWAP_TRIES {
            let Ok(current) = shared.get_attempts(key).await else { return };
            let next = if forget { None } else { throttle::forgive(current) };
            match shared.swap_attempts(key, current, next).await {
                Ok(false) => continue,
                // Best effort: a count left behind only delays, and expires with its window.
                Ok(true) | Err(_) => return,
            }
        }
    }

    /// The enabled user whose password this is; `None` for a wrong
    /// password, an unknown user (after the same work) or a disabled account.
    async fn check_password(&self, username: &str, password: &str) -> Result<Option<User>, LoginError> {
        let unavailable = |e: crate::password::HashError| LoginError::Unavailable(Cause::new("password check", e));
        match self.store.find_user(username).await? {
            Some(u) => {
                let ok = self.passwords.verify(password, &u.password_hash).await.map_err(unavailable)?;
                Ok((ok && !u.disabled).then_some(u))
            }
            None => {
                self.passwords.verify_dummy(password).await.map_err(unavailable)?;
                Ok(None)
            }
        }
    }

    /// The live session behind a cookie value, if any: unexpired, and its
    /// user still exists and is enabled.
    pub async fn session(&self, cookie: &str) -> Result<Option<SignedIn>, OAuthError> {
        if !cookie.starts_with(SESSION_PREFIX) || cookie.len() > 100 {
            return Ok(None);
        }
        let digest = Secret::new(cookie).digest();
        let Some(session) = self.store.get_session(&digest).await? else { return Ok(None) };
        if self.clock.now() >= session.expires_at {
            return Ok(None);
        }
        let Some(user) = self.store.get_user(&session.user_id).await? else { return Ok(None) };
        if user.disabled {
            return Ok(None);
        }
        Ok(Some(SignedIn { session, user }))
    }

    /// Ends the session behind a cookie (if any).
    pub async fn end_session(&self, cookie: &str) -> Result<(), OAuthError> {
        if cookie.starts_with(SESSION_PREFIX) && cookie.len() <= 100 {
            self.store.delete_session(&Secret::new(cookie).digest()).await?;
        }
        Ok(())
    }
}

/// RP-Initiated Logout §2–3: where the browser may go afterwards. A
/// `post_logout_redirect_uri` must be registered, exactly, for the client
/// named by `client_id` or the `id_token_hint`'s audience; anything else
/// is an error shown on our page, never a redirect.
pub async fn logout_target(
    issuer: &TokenIssuer,
    clients: &ClientRegistry,
    clock: &dyn Clock,
    client_id: Option<&str>,
    id_token_hint: Option<&str>,
    post_logout_redirect_uri: Option<&str>,
) -> Result<Option<VerifiedRedirectUri>, OAuthError> {
    let hinted = match id_token_hint {
        Some(t) => {
            let keys = issuer.keys_at(clients.generation()).await?;
            let claims = id_token::verify_hint(&keys, issuer.issuer(), t, clock.now())
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
    let client = clients.client(&client_id).await?.ok_or_else(|| OAuthError::invalid_request("unknown client_id"))?;
    redirect_uri::match_exact(&client.settings.post_logout_redirect_uris, uri).map(Some)
}
