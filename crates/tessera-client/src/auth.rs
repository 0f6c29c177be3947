//! Client authentication at the token endpoint (RFC 6749 §2.3).

use std::fmt;

use base64ct::{Base64, Encoding};
use reqwest::header::{AUTHORIZATION, HeaderValue};
use tessera_proto::Redacted;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::secret::Secret;

/// Who the client is and how it proves it.
#[derive(Clone)]
pub struct ClientAuth {
    client_id: String,
    method: Method,
}

#[derive(Clone)]
enum Method {
    /// RFC 6749 §2.3.1, the HTTP Basic scheme; the default, as the RFC asks
    /// servers to support it.
    Basic(Secret),
    /// RFC 6749 §2.3.1, `client_id` and `client_secret` in the form body.
    Post(Secret),
    /// A public client (RFC 6749 §2.1): no secret, `client_id` in the body
    /// (§3.2.1). Fit for refresh tokens, not for client credentials.
    None,
}

impl ClientAuth {
    /// `client_secret_basic`: the usual choice for a confidential client.
    pub fn basic(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self { client_id: client_id.into(), method: Method::Basic(Secret::new(client_secret)) }
    }

    /// `client_secret_post`: for servers or proxies that mangle `Authorization`.
    pub fn post(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self { client_id: client_id.into(), method: Method::Post(Secret::new(client_secret)) }
    }

    /// A public client (`token_endpoint_auth_method=none`).
    pub fn public(client_id: impl Into<String>) -> Self {
        Self { client_id: client_id.into(), method: Method::None }
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The RFC 8414 / RFC 7591 name of the method.
    pub fn method_name(&self) -> &'static str {
        match self.method {
            Method::Basic(_) => "client_secret_basic",
            Method::Post(_) => "client_secret_post",
            Method::None => "none",
        }
    }

    pub(crate) fn is_public(&self) -> bool {
        matches!(self.method, Method::None)
    }

    /// Adds the credentials to a token request: a header, or form fields.
    pub(crate) fn apply(
        &self,
        request: reqwest::RequestBuilder,
        form: &mut Vec<(&'static str, Zeroizing<String>)>,
    ) -> Result<reqwest::RequestBuilder> {
        Ok(match &self.method {
            Method::Basic(secret) => request.header(AUTHORIZATION, basic_header(&self.client_id, secret.expose())?),
            Method::Post(secret) => {
                form.push(("client_id", Zeroizing::new(self.client_id.clone())));
                form.push(("client_secret", Zeroizing::new(secret.expose().to_owned())));
                request
            }
            Method::None => {
                form.push(("client_id", Zeroizing::new(self.client_id.clone())));
                request
            }
        })
    }
}

impl fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ClientAuth");
        d.field("client_id", &self.client_id).field("method", &self.method_name());
        if !self.is_public() {
            d.field("client_secret", &Redacted);
        }
        d.finish()
    }
}

/// RFC 6749 §2.3.1: id and secret are each form-urlencoded (Appendix B)
/// *before* joining with `:` and base64, so a `:` in the id cannot move the
/// split and non-ASCII survives. Plain RFC 7617 encoding is a classic bug.
pub(crate) fn basic_header(client_id: &str, secret: &str) -> Result<HeaderValue> {
    let id: String = form_urlencoded::byte_serialize(client_id.as_bytes()).collect();
    let secret = Zeroizing::new(form_urlencoded::byte_serialize(secret.as_bytes()).collect::<String>());
    let pair = Zeroizing::new(format!("{id}:{}", secret.as_str()));
    let encoded = Zeroizing::new(Base64::encode_string(pair.as_bytes()));
    let value = Zeroizing::new(format!("Basic {}", encoded.as_str()));
    let mut header =
        HeaderValue::from_str(&value).map_err(|_| Error::Config("client credentials do not fit in a header".into()))?;
    // Keeps it out of HTTP/2 header compression tables and reqwest's Debug.
    header.set_sensitive(true);
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(header: &HeaderValue) -> String {
        let b64 = header.to_str().unwrap_or_default().trim_start_matches("Basic ");
        String::from_utf8(Base64::decode_vec(b64).unwrap_or_default()).unwrap_or_default()
    }

    #[test]
    fn basic_urlencodes_each_half_first() {
        let h = basic_header("my client:1", "p@ss:w/rd+&=%é ~").unwrap_or_else(|_| HeaderValue::from_static(""));
        assert_eq!(decode(&h), "my+client%3A1:p%40ss%3Aw%2Frd%2B%26%3D%25%C3%A9+%7E");
        assert!(h.is_sensitive());
    }

    #[test]
    fn plain_credentials_are_unchanged() {
        let h = basic_header("inventory-sync", "s3cr3t").unwrap_or_else(|_| HeaderValue::from_static(""));
        assert_eq!(h.to_str().unwrap_or_default(), "Basic aW52ZW50b3J5LXN5bmM6czNjcjN0");
    }

    #[test]
    fn debug_redacts_the_secret() {
        for auth in [ClientAuth::basic("id-1", "hunter2-secret"), ClientAuth::post("id-1", "hunter2-secret")] {
            let s = format!("{auth:?}");
            assert!(s.contains("id-1") && !s.contains("hunter2") && s.contains("[redacted]"), "{s}");
        }
        assert!(!format!("{:?}", ClientAuth::public("spa")).contains("redacted"));
    }
}
