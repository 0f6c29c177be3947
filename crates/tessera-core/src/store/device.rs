//! What the device authorization grant (RFC 8628) stores: a device code per
//! request, found by the digest of its device code (the device polling) or
//! of its user code (the person approving).

use async_trait::async_trait;

use super::StoreError;
use crate::amr::AmrSet;
use crate::ids::{ClientId, UserId};
use crate::scope::ScopeSet;
use crate::secret::Digest;

/// Where a device request stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceStatus {
    Pending,
    /// A signed-in person approved it.
    Approved(DeviceApproval),
    Denied,
    /// Tokens were issued; it cannot be used again.
    Redeemed,
}

/// Who approved a device request, and how they had signed in (carried into
/// the ID token as `auth_time` and `amr`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceApproval {
    pub user_id: UserId,
    pub auth_time: i64,
    pub amr: AmrSet,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCode {
    pub device_digest: Digest,
    /// Digest of the normalised user code (8 letters, no dash).
    pub user_digest: Digest,
    pub client_id: ClientId,
    /// Parsed when the row is read; stored as the scope string.
    pub scope: ScopeSet,
    pub audience: Vec<String>,
    pub grant_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    /// Seconds the device must wait between polls; `slow_down` adds 5.
    pub interval: i64,
    pub last_poll_at: Option<i64>,
    pub status: DeviceStatus,
}

/// The outcome of [`DeviceStore::poll_device`], in RFC 8628 §3.5's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Poll {
    Pending,
    /// Polled sooner than the interval; the new, longer interval.
    SlowDown(i64),
    Denied,
    Expired,
    /// Approved: now redeemed, and its grant stored, in one commit.
    Approved(Box<DeviceCode>),
    /// Unknown, another client's, or already redeemed.
    Invalid,
}

/// Device requests.
///
/// Atomicity: every call is one commit, answered after it.
/// [`DeviceStore::poll_device`] takes the interval check, and on approval the
/// redemption and the grant's insert, in one step: of concurrent polls of an
/// approved request, across processes, exactly one gets `Approved`; a poll
/// and a decision on one request never interleave.
#[async_trait]
pub trait DeviceStore: Send + Sync {
    /// [`StoreError::Conflict`] if the user code is taken (draw another).
    async fn insert_device(&self, code: &DeviceCode) -> Result<(), StoreError>;
    /// A pending, unexpired request by user code.
    async fn find_device(&self, user_digest: &Digest, now: i64) -> Result<Option<DeviceCode>, StoreError>;
    /// Approves (`Some`) or denies (`None`) a pending, unexpired request;
    /// `false` if there was none.
    async fn decide_device(
        &self,
        user_digest: &Digest,
        now: i64,
        approval: Option<DeviceApproval>,
    ) -> Result<bool, StoreError>;
    /// One poll by `client_id` at `now`, atomically: the interval check, and
    /// on approval the redemption and the grant (expiring `grant_expires_at`).
    async fn poll_device(
        &self,
        device_digest: &Digest,
        client_id: &ClientId,
        now: i64,
        grant_expires_at: i64,
    ) -> Result<Poll, StoreError>;
}
