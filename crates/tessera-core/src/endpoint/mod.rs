//! One file per endpoint, each an `impl Authority` block.

pub mod discovery;
pub mod introspect;
pub mod revoke;

pub use introspect::{Inspection, Lookup, TokenKind};
