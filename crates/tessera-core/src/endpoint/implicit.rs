//! The legacy implicit grant, RFC 6749 §4.2. Deprecated: OAuth 2.1 and
//! RFC 9700 §2.1.2 remove it (the token travels in the browser's address
//! bar and history). Kept only for clients registered with
//! `--allow-implicit`; every other check of the authorization endpoint
//! still applies (exact redirect URI, consent, `state`, `iss`). The access
//! token is short-lived and never comes with a refresh token.

use crate::endpoint::authorize::{AuthorizationRequest, Authorize, Redirect, SignedIn, with_fragment};
use crate::error::OAuthError;
use crate::issuer::{AccessRequest, UserGrant};
use crate::store::Grant;

/// Implicit access tokens live at most this long, whatever the client's setting.
pub const MAX_IMPLICIT_TTL: u64 = 5 * 60;

impl Authorize<'_> {
    pub(crate) async fn issue_implicit(
        &self,
        req: &AuthorizationRequest,
        s: &SignedIn,
    ) -> Result<Redirect, OAuthError> {
        let now = self.clock.now();
        let c = &req.client;
        let ttl = c.settings.access_token_ttl.min(MAX_IMPLICIT_TTL);
        let mut gid = [0u8; 16];
        self.rng.fill(&mut gid);
        let grant = Grant {
            id: hex::encode(gid),
            user_id: s.user.id.clone(),
            client_id: c.id.clone(),
            scope: req.scope.clone(),
            session_id: Some(s.session.id.clone()),
            created_at: now,
            expires_at: now + ttl as i64,
        };
        // Stored so `grant list`, `grant revoke` and disabling the user reach it.
        self.store.insert_grant(&grant).await?;
        let user = UserGrant { auth_time: s.session.auth_time, grant_id: grant.id.clone() };
        let (scope, audience) = (req.scope.clone(), req.audience.clone());
        let access =
            AccessRequest { subject: s.user.id.to_string(), scope, audience, ttl, user: Some(user), jkt: None };
        let issued = self.issuer.issue(self.clients.generation(), c, access).await?;
        let expires_in = ttl.to_string();
        let scope = req.scope.to_string();
        let mut pairs = vec![
            ("access_token", issued.token.expose()),
            ("token_type", "Bearer"),
            ("expires_in", expires_in.as_str()),
        ];
        if !scope.is_empty() {
            pairs.push(("scope", scope.as_str()));
        }
        if let Some(st) = &req.state {
            pairs.push(("state", st));
        }
        pairs.push(("iss", self.issuer.issuer()));
        Ok(Redirect(with_fragment(req.redirect_uri.as_str(), &pairs)))
    }
}
