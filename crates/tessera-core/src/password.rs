//! Human passwords: the policy (NIST SP 800-63B §5.1.1.2: length, not
//! composition rules; no commonly used passwords) and argon2id hashing with
//! OWASP's parameters (19 MiB, t=2, p=1), run on blocking threads behind a
//! semaphore so a burst of logins cannot starve the server or its memory.

use std::sync::{Arc, LazyLock};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::random::Random;
use crate::threads::{OsThreads, Spawner};

pub const MIN_LEN: usize = 12;
/// Argon2 takes any length; a cap stops a megabyte "password" being hashed.
pub const MAX_LEN: usize = 1024;

/// Every password of 12 or more characters among the million most common,
/// lower-case and byte-sorted (provenance in `common_passwords.SOURCE.md`).
static COMMON: &str = include_str!("common_passwords.txt");
static COMMON_LINES: LazyLock<Vec<&'static str>> = LazyLock::new(|| COMMON.lines().collect());

/// Why a new password was refused; the message is shown to the person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("the password must be at least {MIN_LEN} characters long")]
    TooShort,
    #[error("the password must be at most {MAX_LEN} characters long")]
    TooLong,
    #[error("the password is in a list of commonly used passwords; choose another")]
    Common,
}

pub fn check_policy(password: &str) -> Result<(), PolicyError> {
    let n = password.chars().count();
    if n < MIN_LEN {
        return Err(PolicyError::TooShort);
    }
    if password.len() > MAX_LEN {
        return Err(PolicyError::TooLong);
    }
    if is_common(password) {
        return Err(PolicyError::Common);
    }
    Ok(())
}

fn is_common(password: &str) -> bool {
    let lower = password.to_lowercase();
    COMMON_LINES.binary_search(&lower.as_str()).is_ok()
}

/// Hashes and verifies passwords on a fixed set of threads of its own.
///
/// Not tokio's blocking pool: a job there may land on any of hundreds of
/// threads, and each thread that runs argon2 keeps its own ~19 MiB malloc
/// arena afterwards (resident memory grew past 250 MB under a sign-in
/// burst). A few dedicated threads bound it at threads x 19 MiB. The queue is
/// bounded too: past it, sign-in answers "temporarily unavailable" at once
/// instead of queueing work nobody will wait for.
#[derive(Debug, Clone)]
pub struct PasswordHashing {
    jobs: std::sync::mpsc::SyncSender<Job>,
}

type Job = Box<dyn FnOnce() + Send>;

/// Jobs waiting for a hashing thread before new ones are refused.
const QUEUE: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    #[error("password hashing failed")]
    Failed,
    #[error("too many sign-ins at once")]
    Busy,
}

impl PasswordHashing {
    /// `threads`: hashes computed at once; each holds ~19 MiB and one core
    /// for ~20–40 ms. Runs on operating-system threads.
    pub fn new(threads: usize) -> Self {
        Self::with_spawner(&OsThreads, threads)
    }

    /// As [`Self::new`], its threads started by `spawner`.
    pub fn with_spawner(spawner: &dyn Spawner, threads: usize) -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Job>(QUEUE);
        let rx = Arc::new(std::sync::Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            let spawned = spawner.spawn(
                format!("tessera-argon2-{i}"),
                Box::new(move || {
                    loop {
                        // The lock is held only while waiting for the next job.
                        let job = match rx.lock() {
                            Ok(r) => r.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return, // every sender is gone
                        }
                    }
                }),
            );
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password hashing thread");
            }
        }
        Self { jobs: tx }
    }

    /// An argon2id PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
    pub async fn hash(&self, rng: &dyn Random, password: &str) -> Result<String, HashError> {
        let mut salt = [0u8; 16];
        rng.fill(&mut salt);
        let pw = Zeroizing::new(password.as_bytes().to_vec());
        self.blocking(move || hash_phc(&pw, &salt)).await?
    }

    /// Constant-time comparison of the result. A malformed stored hash is `false`.
    pub async fn verify(&self, password: &str, phc: &str) -> Result<bool, HashError> {
        let pw = Zeroizing::new(password.as_bytes().to_vec());
        let phc = phc.to_string();
        self.blocking(move || verify_phc(&pw, &phc)).await
    }

    /// Spends the same work as a real verification, so an unknown username
    /// answers as slowly as a wrong password.
    pub async fn verify_dummy(&self, password: &str) -> Result<(), HashError> {
        let pw = Zeroizing::new(password.as_bytes().to_vec());
        self.blocking(move || {
            let _ = verify_phc(&pw, DUMMY_HASH.as_str());
        })
        .await
    }

    async fn blocking<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T, HashError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .try_send(Box::new(move || {
                let _ = tx.send(f());
            }))
            .map_err(|e| match e {
                std::sync::mpsc::TrySendError::Full(_) => HashError::Busy,
                std::sync::mpsc::TrySendError::Disconnected(_) => HashError::Failed,
            })?;
        rx.await.map_err(|_| HashError::Failed)
    }
}

thread_local! {
    /// Each hashing thread's argon2 working memory, reused from hash to hash:
    /// mapping and zeroing a fresh 19 MiB block cost ~30 % of a sign-in.
    static BLOCKS: std::cell::RefCell<Vec<Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn with_blocks<T>(n: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
    BLOCKS.with(|b| {
        let mut b = b.borrow_mut();
        if b.len() < n {
            b.resize(n, Block::default());
        }
        f(&mut b[..n])
    })
}

/// What `Argon2::hash_password_with_salt` does, with reused memory.
fn hash_phc(password: &[u8], salt: &[u8]) -> Result<String, HashError> {
    let params = Params::default();
    let argon = Argon2::new(argon2::Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    with_blocks(params.block_count(), |m| argon.hash_password_into_with_memory(password, salt, &mut out, m))
        .map_err(|_| HashError::Failed)?;
    let phc = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|_| HashError::Failed)?,
        salt: Some(Salt::new(salt).map_err(|_| HashError::Failed)?),
        hash: Some(Output::new(&out).map_err(|_| HashError::Failed)?),
    };
    Ok(phc.to_string())
}

/// Recomputes a stored PHC hash (any argon2 variant and parameters it
/// names) with reused memory and compares in constant time.
fn verify_phc(password: &[u8], phc: &str) -> bool {
    let Ok(h) = PasswordHash::new(phc) else { return false };
    let (Some(salt), Some(expected)) = (&h.salt, &h.hash) else { return false };
    let Ok(alg) = argon2::Algorithm::new(h.algorithm.as_str()) else { return false };
    let Ok(version) = Version::try_from(h.version.unwrap_or(0x13)) else { return false };
    let Ok(params) = Params::try_from(&h) else { return false };
    let argon = Argon2::new(alg, version, params.clone());
    let mut out = vec![0u8; expected.len()];
    let done = with_blocks(params.block_count(), |m| {
        argon.hash_password_into_with_memory(password, salt.as_ref(), &mut out, m)
    });
    done.is_ok() && bool::from(out.as_slice().ct_eq(expected.as_bytes()))
}

/// A hash with the default parameters of a password nobody knows.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_phc(b"tessera dummy password, never a real one", b"tessera-dummy-salt").unwrap_or_default());

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    #[test]
    fn policy() {
        assert_eq!(check_policy("short"), Err(PolicyError::TooShort));
        assert_eq!(check_policy("ççççççççççç"), Err(PolicyError::TooShort), "counts characters, not bytes");
        assert_eq!(check_policy("Password1234"), Err(PolicyError::Common), "case-insensitive list");
        assert_eq!(check_policy("qwertyuiopasdfgh"), Err(PolicyError::Common));
        assert_eq!(check_policy(&"x".repeat(MAX_LEN + 1)), Err(PolicyError::TooLong));
        assert_eq!(check_policy("correct horse battery staple"), Ok(()));
    }

    #[test]
    fn common_list_is_sorted_for_binary_search() {
        let lines: Vec<&str> = COMMON.lines().collect();
        assert!(lines.len() >= 40_000);
        assert!(lines.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn reused_memory_gives_the_crates_own_answers() {
        use argon2::{PasswordHasher, PasswordVerifier};
        let ours = hash_phc(b"pw 1234567890", b"0123456789abcdef").unwrap_or_default();
        let theirs = Argon2::default()
            .hash_password_with_salt(b"pw 1234567890", b"0123456789abcdef")
            .map(|h| h.to_string())
            .unwrap_or_default();
        assert_eq!(ours, theirs);
        assert!(Argon2::default().verify_password(b"pw 1234567890", ours.as_str()).is_ok());
        // Hashes made elsewhere with other parameters (argon2i, smaller memory) still verify.
        let other =
            Argon2::new(argon2::Algorithm::Argon2i, Version::V0x13, Params::new(8192, 3, 1, None).unwrap_or_default())
                .hash_password_with_salt(b"pw 1234567890", b"0123456789abcdef")
                .map(|h| h.to_string())
                .unwrap_or_default();
        assert!(verify_phc(b"pw 1234567890", &other));
        assert!(!verify_phc(b"pw 1234567891", &other));
        assert!(verify_phc(b"pw 1234567890", &ours), "after a smaller hash, the block is reused");
    }

    #[tokio::test]
    async fn threads_come_from_the_injected_spawner() {
        struct Counting(std::sync::atomic::AtomicUsize);
        impl Spawner for Counting {
            fn spawn(&self, name: String, job: Box<dyn FnOnce() + Send>) -> std::io::Result<()> {
                assert!(name.starts_with("tessera-argon2-"), "{name}");
                self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                OsThreads.spawn(name, job)
            }
        }
        let spawner = Counting(std::sync::atomic::AtomicUsize::new(0));
        let h = PasswordHashing::with_spawner(&spawner, 3);
        assert_eq!(spawner.0.load(std::sync::atomic::Ordering::SeqCst), 3);
        assert_eq!(h.verify_dummy("anything").await, Ok(()));
    }

    #[tokio::test]
    async fn hash_and_verify() {
        let h = PasswordHashing::new(2);
        let phc = h.hash(&SeededRandom::new(1), "correct horse battery staple").await.unwrap_or_default();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert_eq!(h.verify("correct horse battery staple", &phc).await, Ok(true));
        assert_eq!(h.verify("correct horse battery stable", &phc).await, Ok(false));
        assert_eq!(h.verify("x", "not a hash").await, Ok(false));
        assert_eq!(h.verify_dummy("anything").await, Ok(()));
        assert!(DUMMY_HASH.starts_with("$argon2id$"), "the dummy must cost a real verification");
    }
}
