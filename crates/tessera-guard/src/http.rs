//! The guard's few calls to the issuer: JSON GETs (metadata, JWKS, the
//! revocation feed) and the introspection POST. Answers are size-capped and
//! never follow redirects, so a misconfigured URL cannot point us elsewhere.

use std::time::Duration;

use serde::de::DeserializeOwned;
use tessera_proto::Redacted;

use crate::GuardError;

/// Bigger than any JWKS, feed page or introspection answer we expect.
const MAX_BODY: usize = 4 * 1024 * 1024;

pub(crate) fn client() -> Result<reqwest::Client, GuardError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(15))
        .build()
        .map_err(|e| GuardError::Config(format!("cannot build an HTTP client: {e}")))
}

/// Client credentials for the feed and introspection (RFC 6749 §2.3.1:
/// both parts form-encoded before Basic).
#[derive(Clone)]
pub(crate) struct Credentials {
    header: String,
}

impl Credentials {
    pub fn new(id: &str, secret: &str) -> Self {
        use base64ct::{Base64, Encoding};
        let enc = |s: &str| form_encode(s);
        let raw = format!("{}:{}", enc(id), enc(secret));
        Self { header: format!("Basic {}", Base64::encode_string(raw.as_bytes())) }
    }

    fn value(&self) -> Result<reqwest::header::HeaderValue, GuardError> {
        let mut v = reqwest::header::HeaderValue::from_str(&self.header)
            .map_err(|_| GuardError::Config("client credentials are not header-safe".into()))?;
        v.set_sensitive(true);
        Ok(v)
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Credentials").field(&Redacted).finish()
    }
}

fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub(crate) async fn get_json<T: DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    auth: Option<(&Credentials, Duration)>,
) -> Result<T, GuardError> {
    let mut req = http.get(url).header(reqwest::header::ACCEPT, "application/json");
    if let Some((creds, timeout)) = auth {
        req = req.header(reqwest::header::AUTHORIZATION, creds.value()?).timeout(timeout);
    }
    read_json(url, req.send().await).await
}

pub(crate) async fn post_form<T: DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    creds: &Credentials,
    form: &[(&str, &str)],
) -> Result<T, GuardError> {
    let body: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
    let req = http
        .post(url)
        .header(reqwest::header::AUTHORIZATION, creds.value()?)
        .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(reqwest::header::ACCEPT, "application/json")
        .body(body);
    read_json(url, req.send().await).await
}

async fn read_json<T: DeserializeOwned>(
    url: &str,
    sent: Result<reqwest::Response, reqwest::Error>,
) -> Result<T, GuardError> {
    let unreachable = |e: &dyn std::fmt::Display| GuardError::Unreachable(format!("{url}: {e}"));
    let mut resp = sent.map_err(|e| unreachable(&e))?;
    let status = resp.status();
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| unreachable(&e))? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(unreachable(&"answer too large"));
        }
        body.extend_from_slice(&chunk);
    }
    if !status.is_success() {
        let detail = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
        return Err(GuardError::Refused { status: status.as_u16(), detail });
    }
    serde_json::from_slice(&body).map_err(|e| unreachable(&format!("not the JSON expected: {e}")))
}
