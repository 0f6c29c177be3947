//! Authorization server metadata (RFC 8414 §2, also served as OpenID
//! discovery) and the JWK Set (RFC 7517 §5). Only what is implemented is
//! advertised. Served at both `/.well-known/oauth-authorization-server` and
//! `/.well-known/openid-configuration` (OpenID Connect Discovery §3).

use tessera_proto::{AuthorizationServerMetadata, JwkSet};

use crate::clock::Clock;
use crate::error::OAuthError;
use crate::issuer::TokenIssuer;
use crate::registry::ClientRegistry;

const AUTH_METHODS: &[&str] = &["client_secret_basic", "client_secret_post"];
const TOKEN_AUTH_METHODS: &[&str] = &["client_secret_basic", "client_secret_post", "none"];
const CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "at_hash",
    "amr",
    "sid",
    "azp",
    "name",
    "preferred_username",
    "updated_at",
    "email",
    "email_verified",
];

/// The server's metadata: what is implemented, the registered scopes, and
/// the algorithms of the keys in use.
pub async fn metadata(
    issuer: &TokenIssuer,
    clients: &ClientRegistry,
    clock: &dyn Clock,
) -> Result<AuthorizationServerMetadata, OAuthError> {
    let iss = issuer.issuer().trim_end_matches('/');
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<String>>();
    let methods = strings(AUTH_METHODS);
    let mut scopes = strings(&crate::endpoint::authorize::BUILTIN_SCOPES.iter().map(|(n, _)| *n).collect::<Vec<_>>());
    // The deprecated implicit grant is advertised only while some client uses it.
    let generation = clients.generation();
    let view = clients.config_view().await?;
    let implicit = view.implicit;
    for s in &view.scopes {
        if !scopes.contains(&s.name) {
            scopes.push(s.name.clone());
        }
    }
    Ok(AuthorizationServerMetadata {
        issuer: issuer.issuer().to_string(),
        token_endpoint: format!("{iss}/oauth2/token"),
        jwks_uri: format!("{iss}/oauth2/jwks"),
        introspection_endpoint: format!("{iss}/oauth2/introspect"),
        revocation_endpoint: format!("{iss}/oauth2/revoke"),
        grant_types_supported: strings(&[
            "authorization_code",
            "client_credentials",
            "refresh_token",
            crate::client::DEVICE_CODE_GRANT,
        ]),
        device_authorization_endpoint: Some(format!("{iss}/oauth2/device_authorization")),
        response_types_supported: if implicit { strings(&["code", "token"]) } else { strings(&["code"]) },
        token_endpoint_auth_methods_supported: strings(TOKEN_AUTH_METHODS),
        introspection_endpoint_auth_methods_supported: methods.clone(),
        revocation_endpoint_auth_methods_supported: strings(TOKEN_AUTH_METHODS),
        scopes_supported: scopes,
        authorization_response_iss_parameter_supported: Some(true),
        authorization_endpoint: Some(format!("{iss}/oauth2/authorize")),
        userinfo_endpoint: Some(format!("{iss}/oauth2/userinfo")),
        end_session_endpoint: Some(format!("{iss}/oauth2/logout")),
        response_modes_supported: strings(&["query"]),
        code_challenge_methods_supported: strings(&["S256"]),
        subject_types_supported: strings(&["public"]),
        id_token_signing_alg_values_supported: strings(&["RS256", "ES256", "EdDSA"]),
        claims_supported: strings(CLAIMS),
        dpop_signing_alg_values_supported: crate::dpop::ALGORITHMS.iter().map(|a| a.as_str().to_string()).collect(),
        prompt_values_supported: strings(&["none", "login", "consent", "select_account"]),
        claims_parameter_supported: Some(false),
        request_parameter_supported: Some(false),
        request_uri_parameter_supported: Some(false),
        access_token_signing_alg_values_supported: issuer.keys_at(generation).await?.algorithms(clock.now()),
        revocation_feed_endpoint: Some(format!("{iss}/oauth2/revocations")),
    })
}

/// The JWK Set: every published key, including those not yet signing.
pub async fn jwks(issuer: &TokenIssuer, generation: u64, clock: &dyn Clock) -> Result<JwkSet, OAuthError> {
    Ok(issuer.keys_at(generation).await?.jwks(clock.now()))
}
