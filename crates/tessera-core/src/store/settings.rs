//! Deployment settings every process must agree on ([`ISSUER_SETTING`]).

use async_trait::async_trait;

use super::StoreError;

/// The setting under which `tessera serve` records the issuer it serves
/// (RFC 8414 §2), so the CLI mints tokens that server accepts.
pub const ISSUER_SETTING: &str = "issuer";

/// Named settings.
///
/// Atomicity: a put is one upsert, committed before `Ok`; the last committed
/// value wins.
#[async_trait]
pub trait SettingStore: Send + Sync {
    /// The value recorded under `name`, if any.
    async fn get_setting(&self, name: &str) -> Result<Option<String>, StoreError>;
    /// Records `value` under `name`, replacing an earlier one.
    async fn put_setting(&self, name: &str, value: &str) -> Result<(), StoreError>;
}
