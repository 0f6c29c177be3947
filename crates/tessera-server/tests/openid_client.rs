//! Tessera as an OpenID Provider for a relying party it did not write: the
//! `openidconnect` crate discovers the provider, builds the authorization
//! request (state, nonce, PKCE), redeems the code, verifies the ID token
//! (signature via the discovered JWKS, issuer, audience, nonce, `at_hash`)
//! and calls userinfo, for an RS256 (default) and an ES256 client; and it
//! rejects the ID token when a different nonce is expected.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::signin::*;
use common::*;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};

fn http_client() -> openidconnect::reqwest::Client {
    // As the crate's docs say: never follow redirects (SSRF).
    openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn openidconnect_crate_signs_in_with_default_rs256_id_tokens() {
    relying_party(&[], CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256).await;
}

#[tokio::test]
async fn openidconnect_crate_signs_in_with_es256_id_tokens() {
    relying_party(&["--id-token-alg", "ES256"], CoreJwsSigningAlgorithm::EcdsaP256Sha256).await;
}

/// Discovery → authorization URL → login and consent (the harness browser) →
/// code exchange → ID token verification → userinfo; the crate builds every
/// request and checks every response.
async fn relying_party(extra: &[&str], alg: CoreJwsSigningAlgorithm) {
    let s = Server::start();
    let user_id = s.create_user("alice", PASSWORD);
    let (client_id, secret) = s.create_app(extra);
    let http = http_client();

    let meta = CoreProviderMetadata::discover_async(IssuerUrl::new(s.issuer()).unwrap(), &http)
        .await
        .unwrap_or_else(|e| panic!("{alg:?}: discovery: {e:?}"));
    let client =
        CoreClient::from_provider_metadata(meta, ClientId::new(client_id.clone()), Some(ClientSecret::new(secret)))
            .set_redirect_uri(RedirectUrl::new(REDIRECT.to_string()).unwrap());

    let (challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    assert_eq!(url.origin().ascii_serialization(), s.issuer(), "{url}");

    // The person at the browser: login and consent pages.
    let b = Browser::new(&s);
    let login = b.get(&format!("{}?{}", url.path(), url.query().unwrap())).await;
    assert!(login.is_login(), "{alg:?}: {}", login.body);
    let consent = b.login(&login, "alice", PASSWORD).await;
    assert!(consent.is_consent(), "{alg:?}: {}", consent.body);
    let done = b.consent(&consent, "allow").await;
    assert_eq!(done.status, 303, "{alg:?}: {}", done.body);
    assert_eq!(done.param("state").as_deref(), Some(csrf.secret().as_str()), "CSRF state echoed");
    assert_eq!(done.param("iss"), Some(s.issuer()), "RFC 9207");
    let code = done.param("code").expect("authorization code");

    let token = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(pkce_verifier)
        .request_async(&http)
        .await
        .unwrap_or_else(|e| panic!("{alg:?}: token request: {e:?}"));

    let id_token = token.id_token().expect("ID token in the token response");
    assert_eq!(id_token.signing_alg().unwrap(), &alg);
    let verifier = client.id_token_verifier();
    let claims = id_token.claims(&verifier, &nonce).unwrap_or_else(|e| panic!("{alg:?}: ID token: {e:?}"));
    assert_eq!(claims.subject().as_str(), user_id);
    assert_eq!(claims.issuer().as_str(), s.issuer());
    assert_eq!(claims.audiences().iter().map(|a| a.as_str()).collect::<Vec<_>>(), [client_id.as_str()]);
    assert_eq!(claims.nonce().map(|n| n.secret()), Some(nonce.secret()));
    assert_eq!(claims.email().map(|e| e.as_str()), Some("alice@example.com"));
    assert_eq!(claims.preferred_username().map(|u| u.as_str()), Some("alice"));

    // at_hash, computed by the crate with the ID token's own alg and key.
    let expected = claims.access_token_hash().expect("ID token carries at_hash");
    let actual = AccessTokenHash::from_token(
        token.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(&actual, expected, "{alg:?}: at_hash");

    // The same genuine token, but the relying party expected another nonce.
    let err = id_token.claims(&verifier, &Nonce::new("a-different-nonce".into())).map(|_| ()).unwrap_err();
    assert!(matches!(err, ClaimsVerificationError::InvalidNonce(_)), "{alg:?}: {err:?}");

    let info: CoreUserInfoClaims = client
        .user_info(token.access_token().to_owned(), Some(claims.subject().clone()))
        .unwrap()
        .request_async(&http)
        .await
        .unwrap_or_else(|e| panic!("{alg:?}: userinfo: {e:?}"));
    assert_eq!(info.subject(), claims.subject());
    assert_eq!(info.subject().as_str(), user_id);
    assert_eq!(info.email().map(|e| e.as_str()), Some("alice@example.com"));
}
