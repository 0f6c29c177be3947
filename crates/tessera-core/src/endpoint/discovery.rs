//! Authorization server metadata (RFC 8414 §2, also served as OpenID
//! discovery) and the JWK Set (RFC 7517 §5). Only what is implemented is
//! advertised.

use tessera_proto::{AuthorizationServerMetadata, JwkSet};

use crate::authority::Authority;
use crate::error::OAuthError;

const AUTH_METHODS: &[&str] = &["client_secret_basic", "client_secret_post"];

impl Authority {
    pub async fn metadata(&self) -> Result<AuthorizationServerMetadata, OAuthError> {
        let iss = self.settings().issuer.trim_end_matches('/');
        let methods: Vec<String> = AUTH_METHODS.iter().map(|s| s.to_string()).collect();
        Ok(AuthorizationServerMetadata {
            issuer: self.settings().issuer.clone(),
            token_endpoint: format!("{iss}/oauth2/token"),
            jwks_uri: format!("{iss}/oauth2/jwks"),
            introspection_endpoint: format!("{iss}/oauth2/introspect"),
            revocation_endpoint: format!("{iss}/oauth2/revoke"),
            grant_types_supported: vec!["client_credentials".into()],
            response_types_supported: vec![],
            token_endpoint_auth_methods_supported: methods.clone(),
            introspection_endpoint_auth_methods_supported: methods.clone(),
            revocation_endpoint_auth_methods_supported: methods,
            scopes_supported: vec![],
            authorization_response_iss_parameter_supported: None,
            access_token_signing_alg_values_supported: self.keys().await?.algorithms(self.now()),
        })
    }

    pub async fn jwks(&self) -> Result<JwkSet, OAuthError> {
        Ok(self.keys().await?.jwks(self.now()))
    }
}
