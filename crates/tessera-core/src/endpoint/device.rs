//! The device authorization grant's two endpoints, RFC 8628:
//! - `POST /oauth2/device_authorization` (§3.1–3.2): a device code for the
//!   device, a short user code for the person;
//! - the verification page's checks (§3.3): a signed-in person enters the
//!   user code (case, spaces and dashes ignored), sees the client and the
//!   scopes, and approves or denies. Wrong codes are throttled like
//!   passwords (§5.1: the user code has only ~35 bits).

use tessera_proto::DeviceAuthorizationResponse;

use crate::client::{Client, GrantType, validate_resource_uri};
use crate::client_auth::ClientCall;
use crate::clock::Clock;
use crate::endpoint::authorize::{ScopeLine, SignedIn};
use crate::error::{Cause, OAuthError};
use crate::ids::UserId;
use crate::issuer::TokenIssuer;
use crate::params::Params;
use crate::random::Random;
use crate::registry::ClientRegistry;
use crate::scope::ScopeSet;
use crate::secret::{Digest, Secret};
use crate::store::{DeviceApproval, DeviceCode, DeviceStatus, Store, StoreError};
use crate::throttle::Throttle;

pub const DEVICE_CODE_PREFIX: &str = "tsr_dc_";
/// RFC 8628 §6.1: consonants only (no vowels, so no words), none that look alike.
const ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
pub const USER_CODE_LEN: usize = 8;
/// How long a person has to approve (§3.2 `expires_in`).
pub const DEVICE_CODE_TTL: i64 = 600;
/// Seconds between polls (§3.2 `interval`).
pub const POLL_INTERVAL: i64 = 5;

/// `BCDF-GHJK` → `BCDFGHJK`; `None` unless 8 letters of the alphabet.
pub fn normalize_user_code(s: &str) -> Option<String> {
    // Typed by people: anything much longer than `BCDF-GHJK` is not a code.
    if s.len() > 4 * USER_CODE_LEN {
        return None;
    }
    let c: String = s.chars().filter(|c| !c.is_whitespace() && *c != '-').collect::<String>().to_ascii_uppercase();
    (c.len() == USER_CODE_LEN && c.bytes().all(|b| ALPHABET.contains(&b))).then_some(c)
}

/// `BCDFGHJK` → `BCDF-GHJK`, as people are shown it.
pub fn display_user_code(c: &str) -> String {
    format!("{}-{}", &c[..4], &c[4..])
}

fn user_digest(normalized: &str) -> Digest {
    Digest::of(format!("user-code:{normalized}").as_bytes())
}

/// A pending request as the person sees it.
#[derive(Debug, Clone)]
pub struct DeviceRequest {
    pub user_code: String,
    pub client: std::sync::Arc<Client>,
    pub scopes: Vec<ScopeLine>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceLookupError {
    /// Unknown, expired or already decided; the message is the same for all.
    Invalid,
    /// Too many wrong codes: wait this many seconds.
    Throttled(i64),
    /// The store did not answer: try again later.
    Unavailable(Cause),
    /// A stored row could not be read: a retry reads the same row.
    Internal(Cause),
}

impl From<StoreError> for DeviceLookupError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Corrupt(_) => Self::Internal(Cause::new("device code", e)),
            StoreError::Unavailable(_) | StoreError::Conflict => Self::Unavailable(Cause::new("device code", e)),
        }
    }
}

/// The parts the device flow uses: the store (device codes), the registry
/// (the client, scope sentences), the token issuer (audiences, `iss`), the
/// throttle (wrong user codes), the clock and randomness.
#[derive(Clone, Copy)]
pub struct DeviceFlow<'a> {
    pub store: &'a dyn Store,
    pub clock: &'a dyn Clock,
    pub rng: &'a dyn Random,
    pub clients: &'a ClientRegistry,
    pub issuer: &'a TokenIssuer,
    pub throttle: &'a Throttle,
}

impl DeviceFlow<'_> {
    /// `POST /oauth2/device_authorization`, its credentials already read.
    pub async fn device_authorization_for(
        &self,
        call: &ClientCall,
        params: &Params,
    ) -> Result<DeviceAuthorizationResponse, OAuthError> {
        let caller = call.authenticate()?;
        let c = caller.client();
        if !c.allows_grant(GrantType::DeviceCode) {
            return Err(OAuthError::unauthorized_client("this client may not use the device authorization grant"));
        }
        let allowed = c.scope();
        let scope = match params.get("scope") {
            None => allowed.clone(),
            Some(s) => {
                let s = ScopeSet::parse(s)?;
                if !s.is_subset_of(allowed) {
                    return Err(OAuthError::invalid_scope(format!(
                        "scope not allowed for this client: {}",
                        s.not_in(allowed).join(" ")
                    )));
                }
                s
            }
        };
        let resources: Vec<String> = params.get_all("resource").into_iter().map(String::from).collect();
        for r in &resources {
            validate_resource_uri(r)?;
        }
        let audience = self.issuer.audience_for(c, &resources)?;
        let now = self.clock.now();
        let device = Secret::generate(self.rng, DEVICE_CODE_PREFIX);
        let mut gid = [0u8; 16];
        self.rng.fill(&mut gid);
        // A collision with a live user code is possible in principle: draw again.
        for _ in 0..5 {
            let user_code = self.draw_user_code();
            let code = DeviceCode {
                device_digest: device.digest(),
                user_digest: user_digest(&user_code),
                client_id: c.id.clone(),
                scope: scope.clone(),
                audience: audience.clone(),
                grant_id: hex::encode(gid),
                created_at: now,
                expires_at: now + DEVICE_CODE_TTL,
                interval: POLL_INTERVAL,
                last_poll_at: None,
                status: DeviceStatus::Pending,
            };
            match self.store.insert_device(&code).await {
                Err(StoreError::Conflict) => continue,
                r => r?,
            }
            let iss = self.issuer.issuer().trim_end_matches('/');
            let shown = display_user_code(&user_code);
            return Ok(DeviceAuthorizationResponse {
                device_code: device.expose().to_string(),
                verification_uri: format!("{iss}/device"),
                verification_uri_complete: format!("{iss}/device?user_code={shown}"),
                user_code: shown,
                expires_in: DEVICE_CODE_TTL as u64,
                interval: POLL_INTERVAL as u64,
            });
        }
        Err(OAuthError::server_error("could not draw a free user code"))
    }

    fn draw_user_code(&self) -> String {
        let mut out = String::with_capacity(USER_CODE_LEN);
        while out.len() < USER_CODE_LEN {
            let mut b = [0u8; 16];
            self.rng.fill(&mut b);
            // 240 = 12 x 20: rejecting the rest keeps every letter equally likely.
            for x in b.iter().filter(|x| **x < 240) {
                if out.len() < USER_CODE_LEN {
                    out.push(ALPHABET[(*x % 20) as usize] as char);
                }
            }
        }
        out
    }

    /// The verification page: the request behind a user code. `who` keys
    /// the throttle (the signed-in user and the address).
    pub async fn device_lookup(&self, user_code: &str, who: &[String]) -> Result<DeviceRequest, DeviceLookupError> {
        let now = self.clock.now();
        let wait = who.iter().map(|k| self.throttle.wait(k, now)).max().unwrap_or(0);
        if wait > 0 {
            return Err(DeviceLookupError::Throttled(wait));
        }
        let found = match normalize_user_code(user_code) {
            Some(n) => self.store.find_device(&user_digest(&n), now).await?.map(|d| (n, d)),
            None => None,
        };
        let client = match &found {
            Some((_, d)) => self
                .clients
                .client(d.client_id.as_str())
                .await
                .map_err(|e| DeviceLookupError::Unavailable(Cause::new("the device's client", e)))?,
            None => None,
        };
        let (Some((normalized, code)), Some(client)) = (found, client) else {
            for k in who {
                self.throttle.failure(k, now);
            }
            return Err(DeviceLookupError::Invalid);
        };
        let scopes = self
            .clients
            .describe_scopes(&code.scope)
            .await
            .map_err(|e| DeviceLookupError::Unavailable(Cause::new("scope descriptions", e)))?;
        Ok(DeviceRequest { user_code: display_user_code(&normalized), client, scopes })
    }

    /// Approves or denies. A code that is not pending (unknown, expired,
    /// decided) counts against `who` like a wrong code on the lookup, so
    /// decisions cannot be used to guess codes either.
    pub async fn device_decide(
        &self,
        user_code: &str,
        who: &SignedIn,
        approve: bool,
        keys: &[String],
    ) -> Result<(), DeviceLookupError> {
        let now = self.clock.now();
        let wait = keys.iter().map(|k| self.throttle.wait(k, now)).max().unwrap_or(0);
        if wait > 0 {
            return Err(DeviceLookupError::Throttled(wait));
        }
        let decided = match normalize_user_code(user_code) {
            Some(n) => {
                let approval = approve.then(|| DeviceApproval {
                    user_id: who.user.id.clone(),
                    auth_time: who.session.auth_time,
                    amr: who.session.amr.clone(),
                });
                self.store.decide_device(&user_digest(&n), now, approval).await?
            }
            None => false,
        };
        if !decided {
            for k in keys {
                self.throttle.failure(k, now);
            }
            return Err(DeviceLookupError::Invalid);
        }
        Ok(())
    }
}

/// The purpose a decision form's CSRF token is made for: the code shown and
/// the person it was shown to, so the form cannot decide any other code.
pub fn decision_purpose(user_code: &str, user_id: &UserId) -> Option<String> {
    normalize_user_code(user_code).map(|n| format!("device-decision\n{user_id}\n{n}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_are_forgiving_to_type() {
        assert_eq!(normalize_user_code("bcdf-ghjk").as_deref(), Some("BCDFGHJK"));
        assert_eq!(normalize_user_code(" BCDF GHJK ").as_deref(), Some("BCDFGHJK"));
        for bad in ["BCDF-GHJ", "BCDF-GHJKL", "ABCD-EFGH", "BCDF-GHJ1", ""] {
            assert_eq!(normalize_user_code(bad), None, "{bad}");
        }
        assert_eq!(display_user_code("BCDFGHJK"), "BCDF-GHJK");
    }
}
