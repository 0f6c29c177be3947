//! One file per endpoint, each an `impl Authority` block.

pub mod authorize;
pub mod device;
pub mod discovery;
pub mod implicit;
pub mod introspect;
pub mod revocation_feed;
pub mod revoke;
pub mod session;
pub mod userinfo;

pub use introspect::{Inspection, Lookup, TokenKind};
