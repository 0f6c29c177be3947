//! Core's one error type, mapped once to RFC error codes. The description is
//! safe to show a client; the cause is for the log and never leaves the server.
//!
//! Failures inside (a store that does not answer, a corrupt row, a hashing
//! pool that stopped) keep what caused them as a [`source`](Error::source)
//! chain: a [`Cause`] is a short context with the error behind it, and
//! [`chain`] prints a whole chain on one line, once, for the log.

use std::borrow::Cow;
use std::error::Error;
use std::fmt;
use std::sync::Arc;

use tessera_proto::ErrorCode;

use crate::store::StoreError;

/// `e` and every error behind it on one line, `: `-separated (as anyhow's
/// `{:#}`), for a log field: `error = %chain(&e)`.
pub fn chain<'a>(e: &'a (dyn Error + 'static)) -> Chain<'a> {
    Chain(e)
}

/// See [`chain`].
#[derive(Clone, Copy)]
pub struct Chain<'a>(&'a (dyn Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut next = self.0.source();
        while let Some(e) = next {
            write!(f, ": {e}")?;
            next = e.source();
        }
        Ok(())
    }
}

/// An error behind another, shared so that the error holding it stays
/// `Clone` (a group commit answers a whole batch with one failure). Two are
/// equal when their chains read the same. `Debug` prints the chain's text,
/// never the inner error's `Debug` (a driver's may show more than its message).
#[derive(Clone)]
struct Shared(Arc<dyn Error + Send + Sync + 'static>);

impl Shared {
    fn new(e: impl Error + Send + Sync + 'static) -> Self {
        Self(Arc::new(e))
    }
    fn get(&self) -> &(dyn Error + 'static) {
        &*self.0
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", chain(self.get()).to_string())
    }
}

impl PartialEq for Shared {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || chain(self.get()).to_string() == chain(other.get()).to_string()
    }
}

impl Eq for Shared {}

/// What went wrong inside, for the operator's log: a short context (its
/// `Display`) and the error behind it ([`Error::source`]). Never shown to a
/// client. The context is written by us and names no secret (a URL goes
/// through `tessera_proto::redact_url`); the error behind it is a driver's
/// or the OS's, which carries no credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    context: Cow<'static, str>,
    source: Option<Shared>,
}

impl Cause {
    /// A cause with nothing behind it.
    pub fn msg(context: impl Into<Cow<'static, str>>) -> Self {
        Self { context: context.into(), source: None }
    }

    /// `context`, caused by `source`.
    pub fn new(context: impl Into<Cow<'static, str>>, source: impl Error + Send + Sync + 'static) -> Self {
        Self { context: context.into(), source: Some(Shared::new(source)) }
    }

    /// The context alone, without the errors behind it.
    pub fn context(&self) -> &str {
        &self.context
    }
}

impl From<&'static str> for Cause {
    fn from(context: &'static str) -> Self {
        Self::msg(context)
    }
}

impl From<String> for Cause {
    fn from(context: String) -> Self {
        Self::msg(context)
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.context)
    }
}

impl Error for Cause {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source.as_ref().map(Shared::get)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: String,
    /// Internal detail for the operator's log; never sent to the client.
    pub cause: Option<String>,
    /// The failure behind it, as [`Error::source`]; for the log only.
    source: Option<Shared>,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self { code, description: description.into(), cause: None, source: None }
    }
    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, d)
    }
    pub fn invalid_client(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidClient, d)
    }
    pub fn invalid_scope(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidScope, d)
    }
    pub fn invalid_target(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidTarget, d)
    }
    pub fn unauthorized_client(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::UnauthorizedClient, d)
    }
    pub fn server_error(cause: impl Into<String>) -> Self {
        Self { cause: Some(cause.into()), ..Self::new(ErrorCode::ServerError, "internal error") }
    }
    /// `server_error` (500) caused by `source`; the client sees only "internal error".
    pub fn internal(source: impl Error + Send + Sync + 'static) -> Self {
        Self::new(ErrorCode::ServerError, "internal error").with_source(source)
    }
    /// This error, caused by `source` (logged with it, never sent).
    pub fn with_source(mut self, source: impl Error + Send + Sync + 'static) -> Self {
        self.source = Some(Shared::new(source));
        self
    }

    /// What the log says beyond the code: the cause, then the whole source
    /// chain; `None` when there is neither.
    pub fn detail(&self) -> Option<Detail<'_>> {
        (self.cause.is_some() || self.source.is_some())
            .then(|| Detail { cause: self.cause.as_deref(), source: self.source.as_ref().map(Shared::get) })
    }
}

/// See [`OAuthError::detail`].
#[derive(Clone, Copy)]
pub struct Detail<'a> {
    cause: Option<&'a str>,
    source: Option<&'a (dyn Error + 'static)>,
}

impl fmt::Display for Detail<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.cause, self.source) {
            (Some(c), Some(s)) => write!(f, "{c}: {}", chain(s)),
            (Some(c), None) => f.write_str(c),
            (None, Some(s)) => write!(f, "{}", chain(s)),
            (None, None) => Ok(()),
        }
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.description)
    }
}

impl Error for OAuthError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source.as_ref().map(Shared::get)
    }
}

/// A store that cannot answer means "try again later" (`temporarily_unavailable`,
/// 503), never success. A corrupt row is different: a retry reads the same
/// row, so it is an internal error (`server_error`, 500). Either way the
/// store error is the [`source`](Error::source), and the client sees only
/// the description.
impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Corrupt(_) => Self::internal(e),
            StoreError::Unavailable(_) | StoreError::Conflict => {
                Self::new(ErrorCode::TemporarilyUnavailable, "the authorization server is temporarily unavailable")
                    .with_source(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn a_corrupt_row_is_an_internal_error_not_a_retry() {
        let e = OAuthError::from(StoreError::Corrupt("digest length".into()));
        assert_eq!(e.code, ErrorCode::ServerError);
        assert_eq!(e.source().map(|s| s.to_string()), Some("corrupt record: digest length".into()));
    }

    #[test]
    fn sign_in_pages_tell_a_corrupt_row_from_an_outage() {
        use crate::endpoint::device::DeviceLookupError;
        use crate::endpoint::session::LoginError;
        let corrupt = || StoreError::Corrupt("x".into());
        let down = || StoreError::Unavailable("x".into());
        assert!(matches!(LoginError::from(corrupt()), LoginError::Internal(_)));
        assert!(matches!(LoginError::from(down()), LoginError::Unavailable(_)));
        assert!(matches!(DeviceLookupError::from(corrupt()), DeviceLookupError::Internal(_)));
        assert!(matches!(DeviceLookupError::from(down()), DeviceLookupError::Unavailable(_)));
    }

    /// The store error stays the source of the OAuth error, and the driver's
    /// or the OS's error stays the source of the store error: one chain,
    /// printed once, with nothing of it in the description.
    #[test]
    fn a_store_failure_keeps_its_cause_as_a_source_chain() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        let store = StoreError::Unavailable(Cause::new("cannot reach the database", io));
        assert_eq!(store.to_string(), "store unavailable: cannot reach the database");
        let behind = store.source().expect("the io error");
        assert_eq!(
            behind.downcast_ref::<std::io::Error>().map(|e| e.kind()),
            Some(std::io::ErrorKind::ConnectionRefused)
        );

        let e = OAuthError::from(store.clone());
        assert_eq!(e.source().and_then(|s| s.downcast_ref::<StoreError>()), Some(&store));
        assert_eq!(e.source().and_then(|s| s.source()).map(|s| s.to_string()), Some("connection refused".into()));
        let detail = e.detail().map(|d| d.to_string());
        assert_eq!(detail.as_deref(), Some("store unavailable: cannot reach the database: connection refused"));
        assert_eq!(
            chain(&e).to_string(),
            "temporarily_unavailable: the authorization server is temporarily unavailable: \
             store unavailable: cannot reach the database: connection refused"
        );
        assert!(!e.description.contains("refused") && e.cause.is_none());
        // Clones share the cause: a batch's one failure answers every write.
        assert_eq!(e.clone(), e);
        assert_eq!(store.clone().source().map(|s| s.to_string()), Some("connection refused".into()));
    }

    #[test]
    fn a_cause_and_a_source_are_logged_together() {
        let e = OAuthError::server_error("signing failed").with_source(StoreError::Corrupt("bad key row".into()));
        assert_eq!(e.detail().map(|d| d.to_string()), Some("signing failed: corrupt record: bad key row".into()));
        assert_eq!(OAuthError::invalid_request("x").detail().map(|d| d.to_string()), None);
        assert_eq!(StoreError::Conflict.source().map(|s| s.to_string()), None);
    }

    #[test]
    fn an_unavailable_store_is_a_retry() {
        let e = OAuthError::from(StoreError::Unavailable("pool timed out".into()));
        assert_eq!(e.code, ErrorCode::TemporarilyUnavailable);
        assert_eq!(e.source().map(|s| s.to_string()), Some("store unavailable: pool timed out".into()));
    }
}
