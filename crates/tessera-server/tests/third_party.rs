//! Tessera against libraries it did not write: the `oauth2` crate as the
//! client, and `jsonwebtoken` (not the code that signed) verifying the JWT
//! against the published JWKS, for each signing algorithm.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{ClientId, ClientSecret, RequestTokenError, Scope, TokenResponse, TokenUrl};
use serde_json::Value;

#[tokio::test]
async fn oauth2_crate_gets_a_token_that_jsonwebtoken_verifies_via_jwks() {
    for (alg, jalg) in [
        ("EdDSA", jsonwebtoken::Algorithm::EdDSA),
        ("ES256", jsonwebtoken::Algorithm::ES256),
        ("RS256", jsonwebtoken::Algorithm::RS256),
    ] {
        let s = Server::start_with(&[("TESSERA_SIGNING_ALG", alg)]);
        let (id, secret) =
            s.create_client(&["--scope", "inventory:read inventory:write", "--audience", "https://inventory.example"]);
        let client = BasicClient::new(ClientId::new(id.clone()))
            .set_client_secret(ClientSecret::new(secret.clone()))
            .set_token_uri(TokenUrl::new(s.url("/oauth2/token")).unwrap());
        let http =
            oauth2::reqwest::ClientBuilder::new().redirect(oauth2::reqwest::redirect::Policy::none()).build().unwrap();
        let tok = client
            .exchange_client_credentials()
            .add_scope(Scope::new("inventory:read".into()))
            .request_async(&http)
            .await
            .unwrap_or_else(|e| panic!("{alg}: {e:?}"));
        assert_eq!(tok.scopes().map(|v| v.len()), Some(1));
        let jwt = tok.access_token().secret().clone();

        // Discover the JWKS like a resource server would.
        let meta: Value = common::http()
            .get(s.url("/.well-known/oauth-authorization-server"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let jwks: jsonwebtoken::jwk::JwkSet =
            common::http().get(meta["jwks_uri"].as_str().unwrap()).send().await.unwrap().json().await.unwrap();
        let header = jsonwebtoken::decode_header(&jwt).unwrap();
        assert_eq!(header.typ.as_deref(), Some("at+jwt"), "RFC 9068 §2.1");
        assert_eq!(header.alg, jalg);
        let jwk = jwks.find(header.kid.as_deref().unwrap()).expect("kid published in JWKS");
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
        let mut v = jsonwebtoken::Validation::new(jalg);
        v.set_audience(&["https://inventory.example"]);
        v.set_issuer(&[s.issuer()]);
        v.set_required_spec_claims(&["exp", "iat", "iss", "sub", "aud"]);
        let data = jsonwebtoken::decode::<Value>(&jwt, &key, &v).unwrap_or_else(|e| panic!("{alg}: {e}"));
        let c = data.claims;
        assert_eq!(c["client_id"], Value::String(id.clone()));
        assert_eq!(c["sub"], Value::String(id.clone()));
        assert_eq!(c["scope"], "inventory:read");
        assert!(c["jti"].is_string());
        let mut names: Vec<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
        names.sort();
        assert_eq!(names, ["aud", "client_id", "exp", "iat", "iss", "jti", "scope", "sub"], "only the RFC 9068 claims");

        // A wrong secret comes back as a typed invalid_client error.
        let bad = BasicClient::new(ClientId::new(id))
            .set_client_secret(ClientSecret::new("wrong".into()))
            .set_token_uri(TokenUrl::new(s.url("/oauth2/token")).unwrap());
        match bad.exchange_client_credentials().request_async(&http).await {
            Err(RequestTokenError::ServerResponse(e)) => {
                assert_eq!(*e.error(), BasicErrorResponseType::InvalidClient)
            }
            other => panic!("expected invalid_client, got {other:?}"),
        }
    }
}
