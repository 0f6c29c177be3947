//! Client authentication at the token, introspection and revocation
//! endpoints (RFC 6749 §2.3.1): `client_secret_basic` or `client_secret_post`,
//! never both in one request; or, for a public client only, `none`: its
//! `client_id` alone, the code being bound to it by PKCE (OAuth 2.1 §2.4).

use std::sync::Arc;

use base64ct::{Base64, Encoding};

use crate::client::{Client, ClientKind};
use crate::error::OAuthError;
use crate::params::Params;
use crate::secret::Secret;

/// How the client presented its credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    /// A public client: `client_id` only.
    None,
}

/// Credentials as presented, not yet checked.
#[derive(Debug)]
pub struct PresentedCredentials {
    pub client_id: String,
    /// `None` with [`AuthMethod::None`].
    pub secret: Option<Secret>,
    pub method: AuthMethod,
}

/// Proof that a client authenticated. Only [`authenticate`] makes one, so a
/// handler that skipped the check does not compile.
#[derive(Debug, Clone)]
pub struct AuthenticatedClient {
    client: Arc<Client>,
    method: AuthMethod,
}

impl AuthenticatedClient {
    pub fn client(&self) -> &Client {
        &self.client
    }
    pub fn method(&self) -> AuthMethod {
        self.method
    }
}

/// A request's client credentials, read once with the registered client they
/// name (not yet checked) and the configuration generation the request runs
/// at: the HTTP layer's limits and the endpoint share one parse and one
/// lookup. Made by [`crate::registry::ClientRegistry::client_call`].
#[derive(Debug)]
pub struct ClientCall {
    generation: u64,
    /// The credentials and the client they name, or why there are none
    /// (malformed, absent, or the store could not answer).
    outcome: Result<(PresentedCredentials, Option<Arc<Client>>), OAuthError>,
}

impl ClientCall {
    pub(crate) fn new(
        generation: u64,
        outcome: Result<(PresentedCredentials, Option<Arc<Client>>), OAuthError>,
    ) -> Self {
        Self { generation, outcome }
    }

    /// The configuration generation this request reads clients and keys at.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The registered client the credentials name; not authenticated.
    pub fn named_client(&self) -> Option<&Arc<Client>> {
        self.outcome.as_ref().ok().and_then(|(_, c)| c.as_ref())
    }

    /// RFC 6749 §2.3.1; no credentials at all is `invalid_client` (401).
    pub fn authenticate(&self) -> Result<AuthenticatedClient, OAuthError> {
        match &self.outcome {
            Ok((creds, client)) => authenticate(creds, client.clone()),
            Err(e) => Err(e.clone()),
        }
    }
}

/// Reads credentials from the `Authorization` header value and the form.
/// `Ok(None)`: the request carries no credentials at all.
pub fn extract(authorization: Option<&str>, params: &Params) -> Result<Option<PresentedCredentials>, OAuthError> {
    let body_id = params.get("client_id");
    let body_secret = params.get("client_secret");
    if let Some(header) = authorization {
        let (id, secret) = parse_basic(header)?;
        if body_secret.is_some() {
            return Err(OAuthError::invalid_request("use one client authentication method, not both"));
        }
        if body_id.is_some_and(|b| b != id) {
            return Err(OAuthError::invalid_request("client_id in the body does not match the Authorization header"));
        }
        return Ok(Some(PresentedCredentials {
            client_id: id,
            secret: Some(secret),
            method: AuthMethod::ClientSecretBasic,
        }));
    }
    match (body_id, body_secret) {
        (Some(id), Some(secret)) => Ok(Some(PresentedCredentials {
            client_id: id.to_string(),
            secret: Some(Secret::new(secret)),
            method: AuthMethod::ClientSecretPost,
        })),
        (None, Some(_)) => Err(OAuthError::invalid_request("client_secret sent without client_id")),
        // Only a public client may identify itself without a secret; `authenticate` checks that.
        (Some(id), None) => {
            Ok(Some(PresentedCredentials { client_id: id.to_string(), secret: None, method: AuthMethod::None }))
        }
        (None, None) => Ok(None),
    }
}

/// Checks presented credentials against the registered client. Every
/// failure gives the same answer, so the response does not reveal whether
/// the client exists.
pub fn authenticate(
    creds: &PresentedCredentials,
    client: Option<Arc<Client>>,
) -> Result<AuthenticatedClient, OAuthError> {
    let failed = || OAuthError::invalid_client("client authentication failed");
    let Some(client) = client else {
        // Spend the same work as a real check (digest and constant-time
        // compare), so timing does not tell either; the client lookup itself
        // is cached for unknown ids as for known ones.
        if let Some(s) = &creds.secret {
            let dummy = crate::secret::Digest([0u8; 32]);
            std::hint::black_box(dummy.ct_eq(&s.digest()));
        }
        return Err(failed());
    };
    let ok = match (&creds.secret, &client.kind) {
        (Some(secret), ClientKind::Confidential { .. }) => client.secret_matches(secret),
        (None, ClientKind::Public) => true,
        // A confidential client must prove itself; a public one has nothing to prove with.
        (None, ClientKind::Confidential { .. }) | (Some(_), ClientKind::Public) => false,
    };
    if !ok {
        return Err(failed());
    }
    Ok(AuthenticatedClient { client, method: creds.method })
}

/// RFC 7617 Basic credentials whose halves are form-urlencoded (RFC 6749 §2.3.1).
fn parse_basic(header: &str) -> Result<(String, Secret), OAuthError> {
    let bad = || OAuthError::invalid_request("malformed Basic authorization header");
    let (scheme, rest) = header.trim().split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_request("only the Basic authorization scheme is accepted here"));
    }
    let decoded = Base64::decode_vec(rest.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let id = urldecode(id).ok_or_else(bad)?;
    let secret = urldecode(secret).ok_or_else(bad)?;
    if id.is_empty() || secret.is_empty() {
        return Err(bad());
    }
    Ok((id, Secret::new(secret)))
}

fn urldecode(s: &str) -> Option<String> {
    // form_urlencoded decodes `+` as space and `%XX`, as RFC 6749 §2.3.1 requires.
    // Raw `&` or `=` would split the pair: such a credential is malformed.
    if s.contains(['&', '=']) {
        return None;
    }
    let pair = format!("v={s}");

    form_urlencoded::parse(pair.as_bytes()).next().map(|(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", Base64::encode_string(format!("{id}:{secret}").as_bytes()))
    }

    #[test]
    fn basic_is_urldecoded() {
        let p = Params::default();
        let c = extract(Some(&basic("my%20client", "a%2Bb")), &p).ok().flatten();
        let c = c.unwrap_or_else(|| panic!("no creds"));
        assert_eq!(c.client_id, "my client");
        assert_eq!(c.secret.as_ref().map(|s| s.expose()), Some("a+b"));
        assert_eq!(c.method, AuthMethod::ClientSecretBasic);
    }

    #[test]
    fn malformed_or_double_auth_is_invalid_request() {
        let p = Params::default();
        for h in ["Basic", "Basic !!!", "Basic Zm9v", "Bearer abc", &basic("", "x")] {
            let e = extract(Some(h), &p).err().map(|e| e.code);
            assert_eq!(e, Some(tessera_proto::ErrorCode::InvalidRequest), "{h}");
        }
        let both = Params::parse(b"client_id=a&client_secret=b").unwrap_or_default();
        assert!(extract(Some(&basic("a", "b")), &both).is_err());
        let mismatch = Params::parse(b"client_id=other").unwrap_or_default();
        assert!(extract(Some(&basic("a", "b")), &mismatch).is_err());
    }

    #[test]
    fn post_and_none() {
        let p = Params::parse(b"client_id=a&client_secret=b").unwrap_or_default();
        assert_eq!(extract(None, &p).ok().flatten().map(|c| c.method), Some(AuthMethod::ClientSecretPost));
        assert!(extract(None, &Params::default()).ok().flatten().is_none());
        let public = Params::parse(b"client_id=spa").unwrap_or_default();
        assert_eq!(extract(None, &public).ok().flatten().map(|c| c.method), Some(AuthMethod::None));
    }
}
