//! RFC 9728 Protected Resource Metadata: where clients learn which
//! authorization server and scopes this API uses. Challenges point here
//! through `resource_metadata` (§5.1).

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::GuardError;
use crate::guard::{Guard, check_url};

/// §3.1: the well-known segment goes between the host and the resource's path.
pub(crate) fn well_known_url(resource: &str) -> Result<String, GuardError> {
    let u = check_url("resource", resource)?;
    if u.query().is_some() || u.fragment().is_some() {
        return Err(GuardError::Config(format!("resource {resource:?} must not have a query or fragment")));
    }
    let path = u.path().trim_end_matches('/');
    let origin = u.origin().ascii_serialization();
    Ok(format!("{origin}/.well-known/oauth-protected-resource{path}"))
}

impl Guard {
    /// The metadata route, to merge into the API's (public) router.
    pub fn metadata_router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let body = serde_json::to_vec(self.metadata()).unwrap_or_default();
        let path = url::Url::parse(&self.inner.challenge.resource_metadata)
            .map(|u| u.path().to_string())
            .unwrap_or_else(|_| "/.well-known/oauth-protected-resource".into());
        Router::new().route(
            &path,
            get(move || {
                let body = body.clone();
                async move { json(body) }
            }),
        )
    }
}

fn json(body: Vec<u8>) -> Response {
    let mut r = body.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_goes_before_the_path() {
        assert_eq!(
            well_known_url("https://api.example.com").unwrap(),
            "https://api.example.com/.well-known/oauth-protected-resource"
        );
        assert_eq!(
            well_known_url("https://api.example.com/inventory/").unwrap(),
            "https://api.example.com/.well-known/oauth-protected-resource/inventory"
        );
        assert_eq!(
            well_known_url("http://127.0.0.1:8081").unwrap(),
            "http://127.0.0.1:8081/.well-known/oauth-protected-resource"
        );
        assert!(well_known_url("http://api.example.com").is_err());
        assert!(well_known_url("https://api.example.com/?x=1").is_err());
    }
}
