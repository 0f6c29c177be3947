//! Registered clients (RFC 6749 §2, field names from RFC 7591 §2).

use serde::{Deserialize, Serialize};

use crate::error::OAuthError;
use crate::ids::ClientId;
use crate::keys::Algorithm;
use crate::random::Random;
use crate::redirect_uri;
use crate::scope::ScopeSet;
use crate::secret::{CLIENT_SECRET_PREFIX, Digest, Secret};

/// Grants a client may use. Only those Tessera implements can be registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    ClientCredentials,
    AuthorizationCode,
    RefreshToken,
    /// RFC 8628.
    DeviceCode,
}

impl GrantType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientCredentials => "client_credentials",
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::DeviceCode => DEVICE_CODE_GRANT,
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "client_credentials" => Some(Self::ClientCredentials),
            "authorization_code" => Some(Self::AuthorizationCode),
            "refresh_token" => Some(Self::RefreshToken),
            DEVICE_CODE_GRANT => Some(Self::DeviceCode),
            _ => None,
        }
    }
}

pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// How this client's access tokens look.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenFormat {
    /// RFC 9068 JWT, validated by APIs locally.
    #[default]
    Jwt,
    /// `tsr_at_…` handle, validated by introspection; only its digest is stored.
    Opaque,
}

impl TokenFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jwt => "jwt",
            Self::Opaque => "opaque",
        }
    }
}

/// Whether this client's access tokens may be bearer tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenBinding {
    /// Bearer tokens, or DPoP-bound ones when the request carries a proof.
    #[default]
    Bearer,
    /// Every token request must carry a DPoP proof (RFC 9449 §5.2
    /// `dpop_bound_access_tokens`): its tokens are always bound.
    Dpop,
}

impl TokenBinding {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bearer => "bearer",
            Self::Dpop => "dpop",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Bearer, Self::Dpop].into_iter().find(|b| b.as_str() == s)
    }
}

pub const DEFAULT_ACCESS_TOKEN_TTL: u64 = 15 * 60;
pub use crate::token::MAX_ACCESS_TOKEN_TTL;

/// What a client is allowed to do; stored as one JSON document so new
/// settings need no migration (unknown fields default).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientSettings {
    pub grant_types: Vec<GrantType>,
    /// Parsed once, when the settings are read; stored as the scope string.
    pub scope: ScopeSet,
    #[serde(default)]
    pub audiences: Vec<String>,
    #[serde(default)]
    pub token_format: TokenFormat,
    /// Stored by name like `token_format`; an unknown name fails to read.
    #[serde(default)]
    pub token_binding: TokenBinding,
    pub access_token_ttl: u64,
    /// May introspect tokens issued to other clients (a resource server).
    #[serde(default)]
    pub introspection: bool,
    /// Exact redirect URIs for the authorization code flow.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redirect_uris: Vec<String>,
    /// Where RP-initiated logout may send the browser back to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_logout_redirect_uris: Vec<String>,
    /// Browser origins (SPAs) that may call the token endpoint (CORS).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_origins: Vec<String>,
    /// `id_token_signed_response_alg` (OpenID Connect Registration §2);
    /// `None` is RS256, which every OpenID library supports. Stored by
    /// name; an unknown name fails to read rather than becoming RS256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_alg: Option<Algorithm>,
    /// Refresh tokens: idle lifetime, absolute lifetime of the family, and
    /// the retry window (RFC 9700 §4.14.2); seconds, `None` = the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_idle_ttl: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_absolute_ttl: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_grace: Option<u64>,
    /// The deprecated implicit grant (`response_type=token`): OAuth 2.1
    /// removes it; kept for legacy apps that opt in.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_implicit: bool,
    /// Token requests this client may make on each node; `None` is no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
}

/// `count` requests per `per_seconds` (1, 60 or 3600), in bursts of up to `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    pub count: u32,
    pub per_seconds: u32,
}

pub const DEFAULT_REFRESH_IDLE_TTL: u64 = 14 * 24 * 3600;
pub const DEFAULT_REFRESH_ABSOLUTE_TTL: u64 = 30 * 24 * 3600;
/// Two tabs or a lost response retry within this window and get the same pair.
pub const DEFAULT_REFRESH_GRACE: u64 = 10;
const MAX_REFRESH_TTL: u64 = 365 * 24 * 3600;
const MAX_REFRESH_GRACE: u64 = 120;

/// How a client proves who it is (RFC 6749 §2.1). Stored as the
/// `secret_digest` column: a digest for a confidential client, NULL for a
/// public one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    /// Authenticates with a secret, of which only the digest is kept.
    Confidential { secret_digest: Digest },
    /// `token_endpoint_auth_method=none` (SPAs, native apps): nothing to
    /// prove with, so its codes are bound by PKCE and it never acts as itself.
    Public,
}

impl ClientKind {
    pub fn secret_digest(&self) -> Option<&Digest> {
        match self {
            Self::Confidential { secret_digest } => Some(secret_digest),
            Self::Public => None,
        }
    }
}

/// A registered client as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub id: ClientId,
    pub name: String,
    pub kind: ClientKind,
    pub settings: ClientSettings,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Client {
    pub fn scope(&self) -> &ScopeSet {
        &self.settings.scope
    }

    pub fn allows_grant(&self, g: GrantType) -> bool {
        self.settings.grant_types.contains(&g)
    }

    pub fn is_public(&self) -> bool {
        matches!(self.kind, ClientKind::Public)
    }

    pub fn auth_method(&self) -> &'static str {
        if self.is_public() { "none" } else { "client_secret_basic" }
    }

    pub fn refresh_idle_ttl(&self) -> i64 {
        self.settings.refresh_idle_ttl.unwrap_or(DEFAULT_REFRESH_IDLE_TTL) as i64
    }
    pub fn refresh_absolute_ttl(&self) -> i64 {
        self.settings.refresh_absolute_ttl.unwrap_or(DEFAULT_REFRESH_ABSOLUTE_TTL) as i64
    }
    pub fn refresh_grace(&self) -> i64 {
        self.settings.refresh_grace.unwrap_or(DEFAULT_REFRESH_GRACE) as i64
    }

    pub fn id_token_alg(&self) -> Algorithm {
        self.settings.id_token_alg.unwrap_or(Algorithm::RS256)
    }

    /// Constant-time check of a presented secret.
    pub fn secret_matches(&self, presented: &Secret) -> bool {
        match &self.kind {
            ClientKind::Confidential { secret_digest } => secret_digest.ct_eq(&presented.digest()),
            ClientKind::Public => false,
        }
    }
}

/// A registration request, validated before anything is stored.
#[derive(Debug, Clone, Default)]
pub struct NewClient {
    pub id: Option<String>,
    pub name: String,
    pub grant_types: Vec<String>,
    pub scope: String,
    pub audiences: Vec<String>,
    pub token_format: TokenFormat,
    pub token_binding: TokenBinding,
    pub access_token_ttl: Option<u64>,
    pub introspection: bool,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub allowed_origins: Vec<String>,
    /// No secret: `token_endpoint_auth_method=none` (SPAs, native apps).
    pub public: bool,
    pub id_token_alg: Option<String>,
    pub refresh_idle_ttl: Option<u64>,
    pub refresh_absolute_ttl: Option<u64>,
    pub refresh_grace: Option<u64>,
    pub allow_implicit: bool,
    pub rate_limit: Option<RateLimit>,
}

impl NewClient {
    /// Checks every field and returns the client to store and its secret
    /// (`None` for a public client), which exists only here and is shown to
    /// the operator once.
    pub fn build(self, rng: &dyn Random, now: i64) -> Result<(Client, Option<Secret>), OAuthError> {
        let bad = |m: String| OAuthError::invalid_request(m);
        let name = self.name.trim().to_string();
        if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
            return Err(bad("client name must be 1 to 200 printable characters".into()));
        }
        let id = match self.id {
            Some(id) => ClientId::parse(&id).map_err(bad)?,
            None => ClientId::from(uuid::Builder::from_random_bytes(random16(rng)).into_uuid().to_string()),
        };
        if self.grant_types.is_empty() {
            return Err(bad("at least one --grant-type is required".into()));
        }
        let mut grant_types = Vec::new();
        for g in &self.grant_types {
            let gt = GrantType::parse(g).ok_or_else(|| {
                bad(format!("grant type {g:?} is not supported (supported: client_credentials, authorization_code, refresh_token, {DEVICE_CODE_GRANT})"))
            })?;
            if !grant_types.contains(&gt) {
                grant_types.push(gt);
            }
        }
        let scope = ScopeSet::parse(&self.scope).map_err(|e| bad(e.description))?;
        let mut audiences = Vec::new();
        for a in self.audiences {
            validate_resource_uri(&a).map_err(|e| bad(format!("audience {a:?}: {}", e.description)))?;
            if !audiences.contains(&a) {
                audiences.push(a);
            }
        }
        let ttl = self.access_token_ttl.unwrap_or(DEFAULT_ACCESS_TOKEN_TTL);
        if ttl == 0 || ttl > MAX_ACCESS_TOKEN_TTL {
            return Err(bad(format!("access token lifetime must be between 1 s and {MAX_ACCESS_TOKEN_TTL} s")));
        }
        if grant_types.contains(&GrantType::RefreshToken)
            && !grant_types.contains(&GrantType::AuthorizationCode)
            && !grant_types.contains(&GrantType::DeviceCode)
        {
            return Err(bad("refresh_token is issued only with authorization_code or the device code grant".into()));
        }
        let idle = self.refresh_idle_ttl.unwrap_or(DEFAULT_REFRESH_IDLE_TTL);
        let absolute = self.refresh_absolute_ttl.unwrap_or(DEFAULT_REFRESH_ABSOLUTE_TTL);
        if idle == 0 || absolute == 0 || idle > MAX_REFRESH_TTL || absolute > MAX_REFRESH_TTL || idle > absolute {
            return Err(bad("refresh lifetimes must be 1 s to 365 d, idle no longer than absolute".into()));
        }
        if self.refresh_grace.is_some_and(|g| g > MAX_REFRESH_GRACE) {
            return Err(bad(format!("the refresh retry window is at most {MAX_REFRESH_GRACE} s")));
        }
        if self.allow_implicit && !grant_types.contains(&GrantType::AuthorizationCode) {
            return Err(bad("--allow-implicit needs --grant-type authorization_code and its redirect URIs".into()));
        }
        if self.public && grant_types.contains(&GrantType::ClientCredentials) {
            return Err(bad("a public client cannot use client_credentials: it has no secret".into()));
        }
        let redirect_uris = dedup_checked(self.redirect_uris, |u| {
            redirect_uri::validate_registration(u).map_err(|e| format!("redirect URI {u:?}: {e}"))
        })
        .map_err(bad)?;
        if grant_types.contains(&GrantType::AuthorizationCode) && redirect_uris.is_empty() {
            return Err(bad("authorization_code needs at least one --redirect-uri".into()));
        }
        if !redirect_uris.is_empty() && !grant_types.contains(&GrantType::AuthorizationCode) {
            return Err(bad("--redirect-uri is only for clients with the authorization_code grant".into()));
        }
        let post_logout_redirect_uris = dedup_checked(self.post_logout_redirect_uris, |u| {
            redirect_uri::validate_registration(u).map_err(|e| format!("post-logout redirect URI {u:?}: {e}"))
        })
        .map_err(bad)?;
        let allowed_origins = dedup_checked(self.allowed_origins, validate_origin).map_err(bad)?;
        let id_token_alg = match &self.id_token_alg {
            Some(a) => Some(
                Algorithm::parse(a)
                    .ok_or_else(|| bad(format!("ID token algorithm {a:?} is not one of EdDSA, ES256, RS256")))?,
            ),
            None => None,
        };
        let secret = (!self.public).then(|| Secret::generate(rng, CLIENT_SECRET_PREFIX));
        let client = Client {
            id,
            name,
            kind: match &secret {
                Some(s) => ClientKind::Confidential { secret_digest: s.digest() },
                None => ClientKind::Public,
            },
            settings: ClientSettings {
                grant_types,
                scope,
                audiences,
                token_format: self.token_format,
                token_binding: self.token_binding,
                access_token_ttl: ttl,
                introspection: self.introspection,
                redirect_uris,
                post_logout_redirect_uris,
                allowed_origins,
                id_token_alg,
                refresh_idle_ttl: self.refresh_idle_ttl,
                refresh_absolute_ttl: self.refresh_absolute_ttl,
                refresh_grace: self.refresh_grace,
                allow_implicit: self.allow_implicit,
                rate_limit: self.rate_limit,
            },
            created_at: now,
            updated_at: now,
        };
        Ok((client, secret))
    }
}

fn dedup_checked(items: Vec<String>, check: impl Fn(&str) -> Result<(), String>) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for i in items {
        check(&i)?;
        if !out.contains(&i) {
            out.push(i);
        }
    }
    Ok(out)
}

/// An allowed CORS origin is `scheme://host[:port]` exactly as browsers send
/// it: https, or http on loopback.
fn validate_origin(o: &str) -> Result<(), String> {
    let bad = || format!("allowed origin {o:?} must look like https://app.example.com (scheme, host, port only)");
    let u = url::Url::parse(o).map_err(|_| bad())?;
    let origin = u.origin().ascii_serialization();
    if origin != o {
        return Err(bad());
    }
    let loopback = matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match u.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(format!("allowed origin {o:?} must be https (http only on loopback)")),
    }
}

fn random16(rng: &dyn Random) -> [u8; 16] {
    let mut b = [0u8; 16];
    rng.fill(&mut b);
    b
}

/// RFC 8707 §2: a resource indicator is an absolute URI without a fragment.
pub fn validate_resource_uri(s: &str) -> Result<(), OAuthError> {
    let u = url::Url::parse(s).map_err(|_| OAuthError::invalid_target("resource must be an absolute URI"))?;
    if u.fragment().is_some() {
        return Err(OAuthError::invalid_target("resource must not contain a fragment"));
    }
    if u.cannot_be_a_base() && u.scheme() != "urn" {
        return Err(OAuthError::invalid_target("resource must be an absolute URI"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    fn new_client() -> NewClient {
        NewClient {
            id: None,
            name: "svc".into(),
            grant_types: vec!["client_credentials".into()],
            scope: "a b".into(),
            audiences: vec!["https://api.example.com".into()],
            token_format: TokenFormat::Jwt,
            access_token_ttl: None,
            introspection: false,
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            allowed_origins: vec![],
            public: false,
            id_token_alg: None,
            ..Default::default()
        }
    }

    #[test]
    fn build_generates_id_and_checks_secret() {
        let (c, secret) = new_client().build(&SeededRandom::new(1), 100).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.id.as_str().len(), 36);
        let secret = secret.unwrap_or_else(|| panic!("confidential clients get a secret"));
        assert!(c.secret_matches(&secret));
        assert!(!c.secret_matches(&Secret::new("nope")));
        assert_eq!(c.settings.access_token_ttl, DEFAULT_ACCESS_TOKEN_TTL);
    }

    #[test]
    fn public_spa_client() {
        let mut n = new_client();
        n.grant_types = vec!["authorization_code".into()];
        n.redirect_uris = vec!["https://app.example.com/cb".into(), "https://app.example.com/cb".into()];
        n.allowed_origins = vec!["https://app.example.com".into()];
        n.public = true;
        let (c, secret) = n.build(&SeededRandom::new(1), 0).unwrap_or_else(|e| panic!("{e}"));
        assert!(secret.is_none() && c.is_public());
        assert_eq!(c.auth_method(), "none");
        assert_eq!(c.settings.redirect_uris.len(), 1);
        assert_eq!(c.id_token_alg(), Algorithm::RS256);
    }

    #[test]
    fn rejects_bad_registrations() {
        let rng = SeededRandom::new(1);
        type Mutate = Box<dyn Fn(&mut NewClient)>;
        let cases: Vec<Mutate> = vec![
            Box::new(|c| c.grant_types = vec!["password".into()]),
            Box::new(|c| c.grant_types.clear()),
            Box::new(|c| c.audiences = vec!["not a uri".into()]),
            Box::new(|c| c.audiences = vec!["https://x#frag".into()]),
            Box::new(|c| c.scope = "bad\"scope".into()),
            Box::new(|c| c.access_token_ttl = Some(0)),
            Box::new(|c| c.access_token_ttl = Some(MAX_ACCESS_TOKEN_TTL + 1)),
            Box::new(|c| c.id = Some("has space".into())),
            Box::new(|c| c.name = " ".into()),
            Box::new(|c| c.public = true),
            Box::new(|c| c.grant_types = vec!["authorization_code".into()]),
            Box::new(|c| c.redirect_uris = vec!["https://app.example.com/cb".into()]),
            Box::new(|c| {
                c.grant_types = vec!["authorization_code".into()];
                c.redirect_uris = vec!["javascript:alert(1)".into()];
            }),
            Box::new(|c| c.allowed_origins = vec!["https://app.example.com/path".into()]),
            Box::new(|c| c.allowed_origins = vec!["http://app.example.com".into()]),
            Box::new(|c| c.id_token_alg = Some("HS256".into())),
        ];
        for (i, f) in cases.iter().enumerate() {
            let mut c = new_client();
            f(&mut c);
            assert!(c.build(&rng, 0).is_err(), "case {i} accepted");
        }
    }

    #[test]
    fn token_binding_is_stored_by_name_and_defaults_to_bearer() {
        let mut n = new_client();
        n.token_binding = TokenBinding::Dpop;
        let (c, _) = n.build(&SeededRandom::new(1), 0).unwrap_or_else(|e| panic!("{e}"));
        let mut json = serde_json::to_value(&c.settings).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(json["token_binding"].as_str(), Some("dpop"));
        let back: ClientSettings = serde_json::from_value(json.clone()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.token_binding, TokenBinding::Dpop);
        // Settings stored before the field existed read as bearer.
        if let Some(o) = json.as_object_mut() {
            o.remove("token_binding");
        }
        let old: ClientSettings = serde_json::from_value(json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(old.token_binding, TokenBinding::Bearer);
        assert_eq!((TokenBinding::parse("dpop"), TokenBinding::parse("mac")), (Some(TokenBinding::Dpop), None));
    }

    #[test]
    fn settings_keep_their_stored_form_and_refuse_bad_values() {
        let mut n = new_client();
        n.id_token_alg = Some("ES256".into());
        let (c, _) = n.build(&SeededRandom::new(1), 0).unwrap_or_else(|e| panic!("{e}"));
        let json = serde_json::to_value(&c.settings).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((json["scope"].as_str(), json["id_token_alg"].as_str()), (Some("a b"), Some("ES256")));
        let back: ClientSettings = serde_json::from_value(json.clone()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, c.settings);
        assert_eq!(json["token_binding"].as_str(), Some("bearer"));
        for (field, bad) in [("scope", "a \"b\""), ("id_token_alg", "HS256"), ("token_binding", "mac")] {
            let mut j = json.clone();
            j[field] = serde_json::Value::from(bad);
            assert!(serde_json::from_value::<ClientSettings>(j).is_err(), "{field} = {bad} accepted");
        }
    }
}
