//! One file per endpoint, each a function or a small struct of the parts it
//! uses (never the whole [`crate::Authority`]).

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
