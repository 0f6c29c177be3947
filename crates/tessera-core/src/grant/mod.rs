//! The token endpoint's request (RFC 6749 §3.2), parsed into one variant
//! per grant (RFC 6749 §4), each handled in its own file, and the one
//! exhaustive dispatch from a parsed request to its grant. Every grant
//! answers with the same [`TokenResponse`] (RFC 6749 §5.1).
//!
//! A person's grant issues tokens only from a proof that its checks were
//! done, as [`AuthenticatedClient`] proves the client's:
//! [`authorization_code::RedeemedCode`] (the code consumed by its own
//! client, redirect URI and PKCE verifier matched, user active) and
//! [`device_code::ApprovedDevice`] (approved, polled by its own client, user
//! active). Each is made only inside its grant's file, after the checks.

pub mod authorization_code;
pub mod client_credentials;
pub mod device_code;
pub mod refresh_token;
pub(crate) mod user_tokens;

use tessera_proto::{ErrorCode, TokenResponse};

use crate::client_auth::AuthenticatedClient;
use crate::clock::Clock;
use crate::error::OAuthError;
use crate::issuer::TokenIssuer;
use crate::params::Params;
use crate::random::Random;
use crate::revocations::Revocations;
use crate::store::Store;

/// The parts a person's grant uses: the store (codes, users, refresh
/// tokens), the token issuer, revocations (a replayed code or refresh token
/// revokes its grant), the clock and randomness. The client credentials
/// grant takes the issuer alone.
#[derive(Clone, Copy)]
pub struct GrantParts<'a> {
    pub store: &'a dyn Store,
    pub clock: &'a dyn Clock,
    pub rng: &'a dyn Random,
    pub issuer: &'a TokenIssuer,
    pub revocations: &'a Revocations,
}

#[derive(Debug)]
pub enum TokenRequest {
    /// RFC 6749 §4.4.
    ClientCredentials(client_credentials::Request),
    /// RFC 6749 §4.1.3.
    AuthorizationCode(authorization_code::Request),
    /// RFC 6749 §6.
    RefreshToken(refresh_token::Request),
    /// RFC 8628 §3.4.
    DeviceCode(device_code::Request),
}

/// Grants defined by RFCs that this server does not (yet) offer; named so the
/// error says "unsupported", not "unknown".
const KNOWN_UNSUPPORTED: &[&str] =
    &["password", "urn:ietf:params:oauth:grant-type:jwt-bearer", "urn:ietf:params:oauth:grant-type:token-exchange"];

impl TokenRequest {
    pub fn parse(params: &Params) -> Result<Self, OAuthError> {
        let grant = params.require("grant_type")?;
        match grant {
            "client_credentials" => Ok(Self::ClientCredentials(client_credentials::Request::parse(params)?)),
            "authorization_code" => Ok(Self::AuthorizationCode(authorization_code::Request::parse(params)?)),
            "refresh_token" => Ok(Self::RefreshToken(refresh_token::Request::parse(params)?)),
            crate::client::DEVICE_CODE_GRANT => Ok(Self::DeviceCode(device_code::Request::parse(params)?)),
            g if KNOWN_UNSUPPORTED.contains(&g) => Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                format!("grant type '{g}' is not supported by this server"),
            )),
            _ => Err(OAuthError::new(ErrorCode::UnsupportedGrantType, "unknown grant_type")),
        }
    }

    /// Runs the grant for a client already authenticated, with the
    /// configuration generation the request read its client at. `jkt`: the
    /// key of the request's verified DPoP proof, which the access token is
    /// then bound to (RFC 9449 §5).
    pub async fn handle(
        self,
        parts: &GrantParts<'_>,
        generation: u64,
        client: &AuthenticatedClient,
        jkt: Option<&str>,
    ) -> Result<TokenResponse, OAuthError> {
        match self {
            Self::ClientCredentials(r) => client_credentials::handle(parts.issuer, generation, client, r, jkt).await,
            Self::AuthorizationCode(r) => authorization_code::handle(parts, generation, client, r, jkt).await,
            Self::RefreshToken(r) => refresh_token::handle(parts, generation, client, r, jkt).await,
            Self::DeviceCode(r) => device_code::handle(parts, generation, client, r, jkt).await,
        }
    }
}
