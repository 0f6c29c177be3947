//! Secrets and tokens never reach the logs, even at `trace`; HTTPS with HSTS.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;

#[tokio::test]
async fn no_secret_or_token_in_logs_at_trace_level() {
    let s = Server::start_with(&[("TESSERA_LOG", "trace")]);
    let (id, secret) = s.create_client(&[]);
    let (oid, osecret) = s.create_client(&["--token-format", "opaque"]);
    let jwt = access_token(&s, &id, &secret).await;
    let opaque = access_token(&s, &oid, &osecret).await;
    introspect(&s, &id, &secret, &jwt).await;
    introspect(&s, &oid, &osecret, &opaque).await;
    revoke(&s, &id, &secret, &jwt).await;
    revoke(&s, &oid, &osecret, &opaque).await;
    // Failures are logged too: they must not echo what was sent.
    token(&s, &id, &format!("{secret}x"), &[]).await;
    let _ = http().post(s.url(&format!("/oauth2/token?access_token={opaque}"))).send().await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let logs = s.logs();
    assert!(logs.len() > 1000, "trace logging produced almost nothing: {logs}");
    let jwt_sig = jwt.rsplit('.').next().unwrap();
    for needle in [secret.as_str(), osecret.as_str(), opaque.as_str(), jwt_sig, &opaque[7..]] {
        assert!(!logs.contains(needle), "a credential reached the logs");
    }
}

#[tokio::test]
async fn sign_in_leaves_no_password_code_session_or_id_token_in_logs() {
    use common::signin::*;
    let s = Server::start_with(&[("TESSERA_LOG", "trace")]);
    s.create_user("alice", PASSWORD);
    let (app, secret) = s.create_app(&[]);
    let (verifier, challenge) = pkce(8);
    let b = Browser::new(&s);
    let login = b.authorize(&auth_pairs(&app, &challenge)).await;
    b.login(&login, "alice", "a wrong password, logged?").await;
    let done = b.sign_in(&auth_pairs(&app, &challenge), "alice").await;
    let code = done.param("code").unwrap();
    let (_, tok) = redeem(&s, &app, Some(&secret), &code, &verifier, REDIRECT).await;
    redeem(&s, &app, Some(&secret), &code, &verifier, REDIRECT).await; // a replay is logged
    let id_token = tok["id_token"].as_str().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let logs = s.logs();
    assert!(logs.contains("sign-in failed") && logs.contains("signed in"), "sign-ins are audited");
    for needle in [PASSWORD, "a wrong password", &code[7..], id_token.rsplit('.').next().unwrap(), &verifier, &secret] {
        assert!(!logs.contains(needle), "a credential reached the logs");
    }
    assert!(!logs.contains("tsr_ss_"), "a session cookie reached the logs");
}

#[tokio::test]
async fn https_with_hsts() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let d = tempfile::tempdir().unwrap();
    let (cp, kp) = (d.path().join("cert.pem"), d.path().join("key.pem"));
    std::fs::write(&cp, cert.cert.pem()).unwrap();
    std::fs::write(&kp, cert.signing_key.serialize_pem()).unwrap();
    let port = free_port();
    let mut child = std::process::Command::new(BIN)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--issuer", &format!("https://localhost:{port}")])
        .args(["--tls-cert", cp.to_str().unwrap(), "--tls-key", kp.to_str().unwrap()])
        .env("TESSERA_DATA_DIR", d.path().join("data"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .resolve("localhost", format!("127.0.0.1:{port}").parse().unwrap())
        .build()
        .unwrap();
    let url = format!("https://localhost:{port}/.well-known/oauth-authorization-server");
    let mut resp = None;
    for _ in 0..100 {
        if let Ok(r) = client.get(&url).send().await {
            resp = Some(r);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    let r = resp.expect("HTTPS server did not answer");
    assert_eq!(r.status(), 200);
    assert!(r.headers()["strict-transport-security"].to_str().unwrap().starts_with("max-age="));
    let m: serde_json::Value = r.json().await.unwrap();
    assert_eq!(m["issuer"], format!("https://localhost:{port}"));
}
