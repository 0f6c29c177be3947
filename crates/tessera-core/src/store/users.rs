//! People who sign in.

use async_trait::async_trait;

use super::StoreError;
use crate::ids::UserId;

/// A person who signs in. The password is an argon2id PHC string.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    /// Lower-case, unique.
    pub username: String,
    pub email: String,
    pub name: Option<String>,
    pub password_hash: String,
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

/// User accounts.
///
/// Atomicity: each call is one transaction and returns `Ok` only after it
/// committed. [`UserStore::delete_user`] removes the user with their
/// sessions, refresh tokens, consents and codes in one commit. A user read
/// after an update that committed sees the update (a refresh checks it).
#[async_trait]
pub trait UserStore: Send + Sync {
    /// [`StoreError::Conflict`] if the username or id is taken.
    async fn insert_user(&self, user: &User) -> Result<(), StoreError>;
    async fn get_user(&self, id: &UserId) -> Result<Option<User>, StoreError>;
    async fn find_user(&self, username: &str) -> Result<Option<User>, StoreError>;
    /// Ordered by username.
    async fn list_users(&self) -> Result<Vec<User>, StoreError>;
    /// Replaces email, name, password hash and disabled flag; `false` if absent.
    async fn update_user(&self, user: &User) -> Result<bool, StoreError>;
    /// Deletes the user with their sessions and consents; `false` if absent.
    async fn delete_user(&self, id: &UserId) -> Result<bool, StoreError>;
}
