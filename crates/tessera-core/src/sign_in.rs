//! [`SignIn`]: what a person's browser session rests on: password hashing
//! ([`PasswordHashing`]), the sign-in throttle ([`Throttle`], also guarding
//! the device verification page's user codes), the CSRF key of our forms
//! ([`CsrfKey`]) and the sessions behind cookies. Its steps (password
//! sign-in, session lookup, sign-out) are in `endpoint/session.rs`.

use std::sync::Arc;

use crate::clock::Clock;
use crate::csrf::CsrfKey;
use crate::password::PasswordHashing;
use crate::random::Random;
use crate::store::Store;
use crate::throttle::Throttle;

pub struct SignIn {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) rng: Arc<dyn Random>,
    pub(crate) passwords: PasswordHashing,
    pub(crate) throttle: Throttle,
    csrf: CsrfKey,
    /// How long a browser session lasts after sign-in, in seconds.
    pub(crate) session_ttl: i64,
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn").field("session_ttl", &self.session_ttl).finish_non_exhaustive()
    }
}

impl SignIn {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn Random>,
        passwords: PasswordHashing,
        csrf: CsrfKey,
        session_ttl: i64,
    ) -> Self {
        Self { store, clock, rng, passwords, throttle: Throttle::default(), csrf, session_ttl }
    }

    pub fn csrf(&self) -> &CsrfKey {
        &self.csrf
    }

    pub fn passwords(&self) -> &PasswordHashing {
        &self.passwords
    }

    /// The throttle keyed by account, address and signed-in user.
    pub fn throttle(&self) -> &Throttle {
        &self.throttle
    }
}
