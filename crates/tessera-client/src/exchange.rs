//! One request to the token endpoint (RFC 6749 §3.2) and the reading of its
//! answer: a token (§5.1) or an error (§5.2).

use std::time::Duration;

use reqwest::header::{ACCEPT, HeaderValue};
use tessera_proto::{ErrorResponse, TokenResponse};
use url::Url;
use zeroize::Zeroizing;

use crate::auth::ClientAuth;
use crate::error::Error;
use crate::retry::{Failure, retry_after};

/// A token response is well under 4 KiB; refuse to buffer a runaway body.
const MAX_TOKEN_BYTES: usize = 64 * 1024;
/// Only the start of an unexpected error body is kept, for logs.
const ERROR_SNIPPET_CHARS: usize = 256;

/// POSTs `params` (plus the client's credentials) as a form to `endpoint`.
pub(crate) async fn exchange(
    http: &reqwest::Client,
    endpoint: &Url,
    auth: &ClientAuth,
    params: &[(&'static str, Zeroizing<String>)],
    timeout: Duration,
) -> Result<TokenResponse, Failure> {
    let mut form = params.to_vec();
    let request =
        http.post(endpoint.clone()).header(ACCEPT, HeaderValue::from_static("application/json")).timeout(timeout);
    let request = auth.apply(request, &mut form)?;
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let response = request.form(&form).send().await.map_err(Error::transport)?;

    if !response.status().is_success() {
        return Err(error_from_response(response).await);
    }
    let body = read_body(response, MAX_TOKEN_BYTES).await?;
    let token: TokenResponse = serde_json::from_slice(&body)
        // serde's message names the field, never its value: safe to show.
        .map_err(|e| Error::InvalidResponse(format!("malformed token response: {e}")))?;
    // RFC 6749 §7.1: a client must not use a token type it does not know,
    // and this crate only knows how to send bearer tokens (RFC 6750).
    if !token.token_type.eq_ignore_ascii_case("bearer") {
        return Err(Error::InvalidResponse(format!("unsupported token_type {:?}", token.token_type)).into());
    }
    if token.access_token.is_empty() {
        return Err(Error::InvalidResponse("empty access_token".into()).into());
    }
    Ok(token)
}

/// Turns a non-success response into an error: an RFC 6749 §5.2 body becomes
/// [`Error::Rejected`], anything else [`Error::UnexpectedStatus`].
pub(crate) async fn error_from_response(response: reqwest::Response) -> Failure {
    let status = response.status();
    let retry_after = retry_after(response.headers());
    // A body we cannot read still leaves the status to go by.
    let body = read_body(response, MAX_TOKEN_BYTES).await.unwrap_or_default();
    let error = match serde_json::from_slice::<ErrorResponse>(&body) {
        Ok(e) => Error::Rejected { status, code: e.error, description: e.error_description },
        Err(_) => Error::UnexpectedStatus { status, body: snippet(&body) },
    };
    Failure { error, retry_after }
}

fn snippet(body: &[u8]) -> String {
    String::from_utf8_lossy(body).chars().take(ERROR_SNIPPET_CHARS).collect()
}

/// Reads a body of at most `limit` bytes into memory that is zeroized on drop
/// (a token response holds the tokens in clear).
pub(crate) async fn read_body(mut response: reqwest::Response, limit: usize) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let too_big = || Error::InvalidResponse(format!("response body over {limit} bytes"));
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_big().into());
    }
    let mut body = Zeroizing::new(Vec::new());
    while let Some(chunk) = response.chunk().await.map_err(Error::transport)? {
        if body.len() + chunk.len() > limit {
            return Err(too_big().into());
        }
        // Grow by hand so no reallocation leaves an unzeroized copy behind.
        if body.capacity() < body.len() + chunk.len() {
            let mut bigger = Zeroizing::new(Vec::with_capacity((body.len() + chunk.len()).max(body.capacity() * 2)));
            bigger.extend_from_slice(&body);
            body = bigger;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
