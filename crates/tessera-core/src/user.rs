//! Users: registration rules. Passwords follow [`crate::password`].

use crate::password::{self, PasswordHashing};
use crate::random::Random;
use crate::store::User;

/// What an operator asks for; checked by [`NewUser::build`].
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub email: String,
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Password(#[from] password::PolicyError),
    #[error("password hashing failed")]
    Hash,
}

/// Usernames are case-insensitive: stored lower-case.
pub fn normalize_username(u: &str) -> String {
    u.trim().to_lowercase()
}

pub fn validate_username(u: &str) -> Result<(), UserError> {
    let ok = !u.is_empty()
        && u.len() <= 64
        && u.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-@+".contains(&b));
    if ok { Ok(()) } else { Err(UserError::Invalid("username must be 1 to 64 characters of a-z 0-9 . _ - @ +".into())) }
}

pub fn validate_email(e: &str) -> Result<(), UserError> {
    let bad = || UserError::Invalid(format!("{e:?} is not an email address"));
    let (local, domain) = e.rsplit_once('@').ok_or_else(bad)?;
    let ok = !local.is_empty()
        && e.len() <= 254
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !e.chars().any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>');
    if ok { Ok(()) } else { Err(bad()) }
}

impl NewUser {
    /// Validates and hashes; the password is checked against the policy first.
    pub async fn build(
        self,
        hashing: &PasswordHashing,
        rng: &dyn Random,
        password: &str,
        now: i64,
    ) -> Result<User, UserError> {
        let username = normalize_username(&self.username);
        validate_username(&username)?;
        let email = self.email.trim().to_string();
        validate_email(&email)?;
        let name = self.name.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
        if name.as_ref().is_some_and(|n| n.len() > 200 || n.chars().any(char::is_control)) {
            return Err(UserError::Invalid("name must be at most 200 printable characters".into()));
        }
        password::check_policy(password)?;
        let password_hash = hashing.hash(rng, password).await.map_err(|_| UserError::Hash)?;
        let mut id = [0u8; 16];
        rng.fill(&mut id);
        Ok(User {
            id: uuid::Builder::from_random_bytes(id).into_uuid().to_string().into(),
            username,
            email,
            name,
            password_hash,
            disabled: false,
            created_at: now,
            updated_at: now,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_and_emails() {
        assert_eq!(normalize_username(" Alice "), "alice");
        assert!(validate_username("alice.smith-1").is_ok());
        for bad in ["", "has space", "ünï", &"a".repeat(65), "a/b"] {
            assert!(validate_username(bad).is_err(), "{bad}");
        }
        assert!(validate_email("alice@example.com").is_ok());
        for bad in ["alice", "@example.com", "alice@localhost", "a b@example.com", "a@.com", "<a@b.c>"] {
            assert!(validate_email(bad).is_err(), "{bad}");
        }
    }
}
