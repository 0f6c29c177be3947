//! Client credentials, introspection and revocation over real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use serde_json::Value;

#[tokio::test]
async fn jwt_token_carries_exactly_the_rfc9068_claims() {
    let s = Server::start();
    let (id, secret) =
        s.create_client(&["--scope", "inventory:read inventory:write", "--audience", "https://api.example"]);
    let (st, v) = token(&s, &id, &secret, &[("scope", "inventory:read")]).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 900);
    assert_eq!(v["scope"], "inventory:read");
    assert!(v.get("refresh_token").is_none(), "client_credentials must not get a refresh token");
    let jwt = v["access_token"].as_str().unwrap();
    assert!(jwt.len() < 1024, "JWT is {} bytes", jwt.len());
    let claims = introspect(&s, &id, &secret, jwt).await;
    assert_eq!(claims["active"], true);
    assert_eq!(claims["aud"], "https://api.example");
    assert_eq!(claims["iss"], Value::String(s.issuer()));
    assert_eq!(claims["sub"], Value::String(id.clone()));
    // No scope asked: all of the client's.
    let (_, v) = token(&s, &id, &secret, &[]).await;
    assert_eq!(v["scope"], "inventory:read inventory:write");
}

#[tokio::test]
async fn opaque_tokens_and_client_secret_post() {
    let s = Server::start();
    let (id, secret) = s.create_client(&["--scope", "a b", "--token-format", "opaque", "--access-token-ttl", "2m"]);
    let r = http()
        .post(s.url("/oauth2/token"))
        .form(&[("grant_type", "client_credentials"), ("client_id", &id), ("client_secret", &secret), ("scope", "b")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let v: Value = r.json().await.unwrap();
    let tok = v["access_token"].as_str().unwrap();
    assert!(tok.starts_with("tsr_at_") && tok.len() == 66, "{tok}");
    assert_eq!(v["expires_in"], 120);
    let i = introspect(&s, &id, &secret, tok).await;
    assert_eq!((i["active"].as_bool(), i["scope"].as_str()), (Some(true), Some("b")));
}

#[tokio::test]
async fn scope_and_resource_limits() {
    let s = Server::start();
    let (id, secret) =
        s.create_client(&["--scope", "a", "--audience", "https://one.example", "--audience", "https://two.example"]);
    let (st, v) = token(&s, &id, &secret, &[("scope", "a admin")]).await;
    assert_eq!((st, v["error"].as_str()), (400, Some("invalid_scope")));
    let (st, v) = token(&s, &id, &secret, &[("resource", "https://evil.example")]).await;
    assert_eq!((st, v["error"].as_str()), (400, Some("invalid_target")));
    let (st, v) = token(&s, &id, &secret, &[("resource", "not-absolute")]).await;
    assert_eq!((st, v["error"].as_str()), (400, Some("invalid_target")));
    let (st, v) = token(&s, &id, &secret, &[("resource", "https://two.example")]).await;
    assert_eq!(st, 200);
    let i = introspect(&s, &id, &secret, v["access_token"].as_str().unwrap()).await;
    assert_eq!(i["aud"], "https://two.example");
    let (_, v) = token(&s, &id, &secret, &[]).await;
    let i = introspect(&s, &id, &secret, v["access_token"].as_str().unwrap()).await;
    assert_eq!(i["aud"], serde_json::json!(["https://one.example", "https://two.example"]));
}

#[tokio::test]
async fn introspection_says_only_active_false_for_everything_else() {
    let s = Server::start();
    let (id, secret) = s.create_client(&["--scope", "a"]);
    let (id2, secret2) = s.create_client(&["--scope", "a", "--token-format", "opaque"]);
    let (rs, rs_secret) = s.create_client(&["--introspection"]);
    let jwt = access_token(&s, &id, &secret).await;
    let opaque = access_token(&s, &id2, &secret2).await;
    let inactive = serde_json::json!({"active": false});

    // Another client may not see it; a resource server may.
    assert_eq!(introspect(&s, &id2, &secret2, &jwt).await, inactive);
    assert_eq!(introspect(&s, &id, &secret, &opaque).await, inactive);
    assert_eq!(introspect(&s, &rs, &rs_secret, &jwt).await["active"], true);
    assert_eq!(introspect(&s, &rs, &rs_secret, &opaque).await["active"], true);

    // Tampered, unknown, garbage.
    let mut parts: Vec<&str> = jwt.split('.').collect();
    let forged_payload = <base64ct::Base64UrlUnpadded as base64ct::Encoding>::encode_string(
        br#"{"iss":"x","sub":"x","aud":"x","exp":9999999999,"iat":1,"jti":"x","client_id":"x"}"#,
    );
    parts[1] = &forged_payload;
    let tampered = parts.join(".");
    let unknown_opaque = format!("tsr_at_{}", "A".repeat(43));
    for t in [tampered.as_str(), &unknown_opaque, "garbage", "a.b.c", "", &"x".repeat(60_000)] {
        let r = http()
            .post(s.url("/oauth2/introspect"))
            .basic_auth(&rs, Some(&rs_secret))
            .form(&[("token", t)])
            .send()
            .await
            .unwrap();
        if t.is_empty() {
            assert_eq!(r.status(), 400, "an empty token is a missing parameter");
            continue;
        }
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<Value>().await.unwrap(), inactive, "token {:.40}", t);
    }

    // Expired: minted with a 1 s lifetime.
    let out = s.cli(&["token", "mint", "--client", &id, "--ttl", "1s"]);
    assert!(out.status.success());
    let short = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert_eq!(introspect(&s, &id, &secret, &short).await["active"], true);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(introspect(&s, &id, &secret, &short).await, inactive);

    // No client authentication at all: 401.
    let r = http().post(s.url("/oauth2/introspect")).form(&[("token", jwt.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
}

#[tokio::test]
async fn revocation_rules_for_both_formats() {
    let s = Server::start();
    let (a, a_secret) = s.create_client(&[]);
    let (b, b_secret) = s.create_client(&["--token-format", "opaque"]);
    let jwt = access_token(&s, &a, &a_secret).await;
    let opaque = access_token(&s, &b, &b_secret).await;

    // Another client's token: 200, and it stays active.
    assert_eq!(revoke(&s, &b, &b_secret, &jwt).await, 200);
    assert_eq!(revoke(&s, &a, &a_secret, &opaque).await, 200);
    assert_eq!(introspect(&s, &a, &a_secret, &jwt).await["active"], true);
    assert_eq!(introspect(&s, &b, &b_secret, &opaque).await["active"], true);
    // Unknown token: 200.
    assert_eq!(revoke(&s, &a, &a_secret, "tsr_at_nothing-like-this").await, 200);

    // The owner revokes: inactive at once, and a second revoke is still 200.
    assert_eq!(revoke(&s, &a, &a_secret, &jwt).await, 200);
    assert_eq!(revoke(&s, &b, &b_secret, &opaque).await, 200);
    assert_eq!(introspect(&s, &a, &a_secret, &jwt).await["active"], false);
    assert_eq!(introspect(&s, &b, &b_secret, &opaque).await["active"], false);
    assert_eq!(revoke(&s, &a, &a_secret, &jwt).await, 200);

    // Revocation needs client authentication.
    let r = http().post(s.url("/oauth2/revoke")).form(&[("token", jwt.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn cli_changes_reach_the_running_server_at_once() {
    let s = Server::start();
    let (id, secret) = s.create_client(&["--token-format", "opaque"]);
    let tok = access_token(&s, &id, &secret).await; // warms the server's client cache
    let out = s.cli(&["client", "rotate-secret", &id, "--json"]);
    assert!(out.status.success());
    let new_secret =
        serde_json::from_slice::<Value>(&out.stdout).unwrap()["client_secret"].as_str().unwrap().to_string();
    let (st, v) = token(&s, &id, &secret, &[]).await;
    assert_eq!((st, v["error"].as_str()), (401, Some("invalid_client")), "old secret must stop working at once");
    assert_eq!(token(&s, &id, &new_secret, &[]).await.0, 200);
    assert_eq!(introspect(&s, &id, &new_secret, &tok).await["active"], true, "rotation does not revoke tokens");

    let (rs, rs_secret) = s.create_client(&["--introspection"]);
    assert!(s.cli(&["client", "delete", &id]).status.success());
    assert_eq!(token(&s, &id, &new_secret, &[]).await.0, 401);
    assert_eq!(introspect(&s, &rs, &rs_secret, &tok).await["active"], false, "a deleted client's tokens die");
}

#[tokio::test]
async fn discovery_and_jwks() {
    let s = Server::start();
    let m: Value =
        http().get(s.url("/.well-known/oauth-authorization-server")).send().await.unwrap().json().await.unwrap();
    assert_eq!(m["issuer"], Value::String(s.issuer()));
    assert_eq!(m["token_endpoint"], Value::String(s.url("/oauth2/token")));
    assert_eq!(
        m["grant_types_supported"],
        serde_json::json!([
            "authorization_code",
            "client_credentials",
            "refresh_token",
            "urn:ietf:params:oauth:grant-type:device_code"
        ])
    );
    assert_eq!(m["device_authorization_endpoint"], Value::String(s.url("/oauth2/device_authorization")));
    assert_eq!(m["authorization_endpoint"], Value::String(s.url("/oauth2/authorize")));
    assert_eq!(m["userinfo_endpoint"], Value::String(s.url("/oauth2/userinfo")));
    assert_eq!(m["end_session_endpoint"], Value::String(s.url("/oauth2/logout")));
    assert_eq!(m["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(m["code_challenge_methods_supported"], serde_json::json!(["S256"]));
    assert_eq!(m["authorization_response_iss_parameter_supported"], true);
    assert_eq!(m["scopes_supported"], serde_json::json!(["openid", "profile", "email", "offline_access"]));
    let o: Value = http().get(s.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(o, m);
    let jwks: Value = http().get(s.url("/oauth2/jwks")).send().await.unwrap().json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    // EdDSA signs access tokens; RS256 (the OpenID default), ES256 and EdDSA sign ID tokens.
    let kty: Vec<&str> = keys.iter().map(|k| k["kty"].as_str().unwrap()).collect();
    assert_eq!(kty, vec!["OKP", "RSA", "EC"]);
    for k in keys {
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(k.get(private).is_none(), "JWKS leaks private member {private}");
        }
    }
    assert_eq!(http().get(s.url("/readyz")).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn signing_key_survives_restart_and_algorithm_change_keeps_old_key() {
    let mut s = Server::start();
    let (id, secret) = s.create_client(&[]);
    let before = access_token(&s, &id, &secret).await;
    s.kill9();
    s.spawn();
    assert_eq!(introspect(&s, &id, &secret, &before).await["active"], true, "key must persist");
    let master = s.data_dir().join("master.key");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&master).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    s.kill9();
    let mut s2 = s;
    let out = s2.cli(&["--signing-alg", "ES256", "token", "mint", "--client", &id]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let es = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let header = es.split('.').next().unwrap();
    let header = <base64ct::Base64UrlUnpadded as base64ct::Encoding>::decode_vec(header).ok();
    assert!(String::from_utf8(header.unwrap()).unwrap().contains("ES256"));
    s2.spawn(); // back on EdDSA; both keys published, both tokens verify
    let jwks: Value = http().get(s2.url("/oauth2/jwks")).send().await.unwrap().json().await.unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 3, "one key per algorithm, none added");
    assert_eq!(introspect(&s2, &id, &secret, &es).await["active"], true);
    assert_eq!(introspect(&s2, &id, &secret, &before).await["active"], true);
}
