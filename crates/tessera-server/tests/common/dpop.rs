//! DPoP helpers for the token endpoint and UserInfo tests: proofs from
//! `tessera_pop::dpop::make_proof`, token requests with `DPoP` headers, and
//! the checks of a bound answer and of a refusal.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};

use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::Value;
use tessera_pop::dpop::{ProofKey, make_proof};

use super::{Server, http};

pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

pub fn jti() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!("jti-{}-{}-{}", std::process::id(), now(), N.fetch_add(1, Ordering::Relaxed))
}

pub fn claims(jwt: &str) -> Value {
    serde_json::from_slice(&Base64UrlUnpadded::decode_vec(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

pub fn proof(key: &ProofKey, s: &Server, nonce: Option<&str>) -> String {
    make_proof(key, "POST", &s.url("/oauth2/token"), None, nonce, now(), &jti()).unwrap()
}

pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Answer {
    pub async fn of(r: reqwest::Response) -> Self {
        let (status, headers) = (r.status().as_u16(), r.headers().clone());
        Answer { status, headers, body: r.json().await.unwrap_or(Value::Null) }
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn nonce(&self) -> String {
        self.header("dpop-nonce").expect("a DPoP-Nonce header").to_string()
    }
}

/// A token request with these `DPoP` headers; `secret` None for a public client.
pub async fn post(s: &Server, id: &str, secret: Option<&str>, form: &[(&str, &str)], proofs: &[&str]) -> Answer {
    let mut req = http().post(s.url("/oauth2/token"));
    let mut form = form.to_vec();
    match secret {
        Some(sec) => req = req.basic_auth(id, Some(sec)),
        None => form.push(("client_id", id)),
    }
    for p in proofs {
        req = req.header("DPoP", *p);
    }
    Answer::of(req.form(&form).send().await.unwrap()).await
}

pub fn assert_bound(a: &Answer, jkt: &str) {
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["token_type"], "DPoP", "{}", a.body);
    let c = claims(a.body["access_token"].as_str().unwrap());
    assert_eq!(c["cnf"]["jkt"], jkt, "{c}");
    assert!(a.header("dpop-nonce").is_some(), "a successful DPoP response carries a nonce");
}

pub fn assert_refused(a: &Answer, code: &str, why: &str) {
    assert_eq!((a.status, a.body["error"].as_str()), (400, Some(code)), "{why}: {}", a.body);
    assert_eq!(a.header("cache-control"), Some("no-store"), "{why}");
}
