//! Storage traits, one per concern (as fosite's storage interfaces), and the
//! [`Store`] umbrella every backend (memory, SQLite, PostgreSQL) implements
//! and the one conformance suite in `tessera-store` checks.
//!
//! # Layout
//! - [`clients`]: [`ClientStore`]; [`keys`]: [`KeyStore`]; [`scopes`]:
//!   [`ScopeStore`]; [`settings`]: [`SettingStore`] — configuration;
//! - [`tokens`]: [`TokenStore`] (opaque access tokens); [`revocations`]:
//!   [`RevocationStore`] (the revocation feed);
//! - [`users`]: [`UserStore`]; [`sessions`]: [`SessionStore`]; [`consent`]:
//!   [`ConsentStore`] — sign-in;
//! - [`codes`]: [`CodeStore`]; [`grants`]: [`GrantStore`]; [`refresh`]:
//!   [`RefreshStore`]; [`device`]: [`DeviceStore`] — grants and what they yield;
//! - [`attempts`]: [`AttemptStore`] (sign-in counters shared by a cluster);
//! - [`replays`]: [`ReplayStore`] (proof-of-possession replay cache shared by a
//!   cluster) and [`StoreReplayCache`], which hands it to `tessera-pop`;
//! - [`wide`]: [`StoreWide`] (configuration generation, signals, purge, ping).
//!
//! Each trait's doc comment states its atomicity contract. A new concern
//! adds a trait here (and to [`Store`]) rather than widening one. Callers
//! holding a concrete store bring the methods into scope with
//! `use tessera_core::store::prelude::*`.
//!
//! Rules every backend keeps:
//! - a write returns `Ok` only after it is durable (committed);
//! - credentials are stored as [`Digest`](crate::secret::Digest)s, never in the clear;
//! - records carry typed values: [`ClientId`](crate::ids::ClientId) and
//!   [`UserId`](crate::ids::UserId) for ids, [`ScopeSet`](crate::scope::ScopeSet)
//!   for scopes, [`CodeChallenge`](crate::pkce::CodeChallenge) for PKCE, stored
//!   as the same strings; a stored value that does not parse reads as
//!   [`StoreError::Corrupt`], never as a default;
//! - [`StoreWide::config_generation`] changes after every client, key or scope change,
//!   whichever process made it, so caches in a running server never go stale.

pub mod attempts;
pub mod clients;
pub mod codes;
pub mod consent;
pub mod device;
pub mod grants;
pub mod keys;
pub mod refresh;
pub mod replays;
pub mod revocations;
pub mod scopes;
pub mod sessions;
pub mod settings;
pub mod tokens;
pub mod users;
pub mod wide;

/// The in-memory store: the reference behaviour of the conformance suite
/// and the backend of core's own rule tests (feature `test-store`).
#[cfg(any(test, feature = "test-store"))]
pub mod memory;

pub use crate::error::Cause;
pub use attempts::AttemptStore;
pub use clients::ClientStore;
pub use codes::{AuthCode, CodeStore, Redemption};
pub use consent::{Consent, ConsentStore};
pub use device::{DeviceApproval, DeviceCode, DeviceStatus, DeviceStore, Poll};
pub use grants::{Grant, GrantFilter, GrantStore};
pub use keys::{KeyStore, StoredKey};
pub use refresh::{RefreshState, RefreshStore, RefreshToken, Rotation};
pub use replays::{ReplayStore, StoreReplayCache};
pub use revocations::{Revocation, RevocationEntry, RevocationStore, RevokedToken};
pub use scopes::{ScopeInfo, ScopeStore};
pub use sessions::{Session, SessionStore};
pub use settings::{ISSUER_SETTING, SettingStore};
pub use tokens::{OpaqueToken, TokenStore};
pub use users::{User, UserStore};
pub use wide::{Purged, RevocationNotifier, RevocationSignal, SignalStopped, StoreWide};

/// Every store trait, for callers that hold a concrete store (`use tessera_core::store::prelude::*`).
pub mod prelude {
    pub use super::{
        AttemptStore, ClientStore, CodeStore, ConsentStore, DeviceStore, GrantStore, KeyStore, RefreshStore,
        ReplayStore, RevocationStore, ScopeStore, SessionStore, SettingStore, Store, StoreWide, TokenStore, UserStore,
    };
}

/// Why a store call failed. [`StoreError::Unavailable`] may pass with a
/// retry; [`StoreError::Corrupt`] will not (the row stays as it is).
///
/// Both keep their [`Cause`]: the message says what failed, and
/// [`source`](std::error::Error::source) is the driver's, the OS's or the
/// decoder's error behind it (log it with [`chain`](crate::error::chain)).
/// `Clone`, so one failed commit can answer every write of its batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The database did not answer or refused the write.
    Unavailable(Cause),
    /// A row with the same key already exists.
    Conflict,
    /// Data in the store could not be read back.
    Corrupt(Cause),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unavailable(c) => write!(f, "store unavailable: {c}"),
            Self::Conflict => f.write_str("already exists"),
            Self::Corrupt(c) => write!(f, "corrupt record: {c}"),
        }
    }
}

/// The cause's own context is in the message, so the chain goes on with
/// the error behind it.
impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Unavailable(c) | Self::Corrupt(c) => std::error::Error::source(c),
            Self::Conflict => None,
        }
    }
}

/// Declares [`Store`] over `$trait`s, with the blanket impl that gives it
/// to every type implementing them all: the list is written once.
macro_rules! umbrella {
    ($(#[$doc:meta])* $($trait:ident),+) => {
        $(#[$doc])*
        pub trait Store: $($trait +)+ Send + Sync + 'static {}

        impl<T> Store for T where T: $($trait +)+ Send + Sync + 'static {}
    };
}

umbrella!(
    /// The whole store: every concern's trait. Backends implement the small
    /// traits; this one comes with them (blanket impl), so `Arc<dyn Store>`
    /// reaches every method.
    ClientStore,
    KeyStore,
    TokenStore,
    RevocationStore,
    UserStore,
    ScopeStore,
    SessionStore,
    ConsentStore,
    CodeStore,
    GrantStore,
    RefreshStore,
    DeviceStore,
    ReplayStore,
    SettingStore,
    StoreWide
);
