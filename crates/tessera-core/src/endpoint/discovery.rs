//! Authorization server metadata (RFC 8414 §2, also served as OpenID
//! discovery) and the JWK Set (RFC 7517 §5). Only what is implemented is
//! advertised. Served at both `/.well-known/oauth-authorization-server` and
//! `/.well-known/openid-configuration` (OpenID Connect Discovery §3).

use tessera_proto::{AuthorizationServerMetadata, JwkSet};

use crate::authority::Authority;
use crate::error::OAuthError;

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

impl Authority {
    pub async fn metadata(&self) -> Result<AuthorizationServerMetadata, OAuthError> {
        let iss = self.settings().issuer.trim_end_matches('/');
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<String>>();
        let methods = strings(AUTH_METHODS);
        let mut scopes =
            strings(&crate::endpoint::authorize::BUILTIN_SCOPES.iter().map(|(n, _)| *n).collect::<Vec<_>>());
        // The deprecated implicit grant is advertised only while some client uses it.
        let view = self.config_view().await?;
        let implicit = view.implicit;
        for s in &view.scopes {
            if !scopes.contains(&s.name) {
                scopes.push(s.name.clone());
            }
        }
        Ok(AuthorizationServerMetadata {
            issuer: self.settings().issuer.clone(),
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
            prompt_values_supported: strings(&["none", "login", "consent", "select_account"]),
            claims_parameter_supported: Some(false),
            request_parameter_supported: Some(false),
            request_uri_parameter_supported: Some(false),
            access_token_signing_alg_values_supported: self.keys().await?.algorithms(self.now()),
            revocation_feed_endpoint: Some(format!("{iss}/oauth2/revocations")),
        })
    }

    pub async fn jwks(&self) -> Result<JwkSet, OAuthError> {
        Ok(self.keys().await?.jwks(self.now()))
    }
}
