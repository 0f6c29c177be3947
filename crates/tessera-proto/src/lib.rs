//! Wire types shared by the Tessera server, `tessera-guard` and `tessera-client`.
//!
//! Only `serde` types (and the URL redaction every crate shares) live here, so
//! a resource server or client can depend on this crate without compiling the
//! authorization server.
//!
//! # Layout
//! - [`error`]: RFC 6749 §5.2 error codes and the JSON error body.
//! - [`token`]: the token endpoint's success response (RFC 6749 §5.1).
//! - [`claims`]: JWT access-token claims (RFC 9068 §2.2), `cnf` (RFC 7800, RFC 9449 §6.1).
//! - [`introspection`]: the introspection response (RFC 7662 §2.2).
//! - [`metadata`]: authorization server metadata (RFC 8414 §2).
//! - [`jwk`]: JSON Web Keys and key sets (RFC 7517, RFC 8037).
//! - [`revocation`]: the revocation feed that resource servers follow.
//! - [`resource`]: protected resource metadata (RFC 9728 §2).
//! - [`redact`]: the project's one home for redaction: [`redact_url`], the
//!   one way to print a URL that may carry a password or token, and
//!   [`Redacted`], what every credential type prints in `Debug` output.
#![forbid(unsafe_code)]

pub mod claims;
pub mod error;
pub mod introspection;
pub mod jwk;
pub mod metadata;
pub mod redact;
pub mod resource;
pub mod revocation;
pub mod token;

pub use claims::{AccessTokenClaims, Audience, Confirmation};
pub use error::{ErrorCode, ErrorResponse};
pub use introspection::IntrospectionResponse;
pub use jwk::{Jwk, JwkSet};
pub use metadata::AuthorizationServerMetadata;
pub use redact::{Redacted, redact_url};
pub use resource::ProtectedResourceMetadata;
pub use revocation::{RevocationFeed, RevocationFeedEntry, RevokedKind};
pub use token::{DeviceAuthorizationResponse, TokenResponse};
