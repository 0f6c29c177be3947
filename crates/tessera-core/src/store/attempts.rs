//! Sign-in failure counters that every node of a cluster shares, so moving
//! to another node behind the load balancer does not reset an account's
//! throttle. The throttle's rule stays in [`crate::throttle`]; a store only
//! keeps counts and swaps them atomically.

use async_trait::async_trait;

use super::StoreError;
use crate::throttle::Count;

/// Counters by key (`user:NAME`), kept until their window has passed.
#[async_trait]
pub trait AttemptStore: Send + Sync {
    async fn get_attempts(&self, key: &str) -> Result<Option<Count>, StoreError>;
    /// Sets `key`'s count to `new` (`None` removes it) only if it is still
    /// `expected` (`None`: absent), atomically across processes; `false` if
    /// another writer changed it first (read again and retry).
    async fn swap_attempts(&self, key: &str, expected: Option<Count>, new: Option<Count>) -> Result<bool, StoreError>;
}
