//! Threads are a parameter: core code that needs threads of its own (the
//! password hashing pool) asks a [`Spawner`], as it asks a
//! [`crate::clock::Clock`] for time and a [`crate::random::Random`] for bytes.

/// Starts a named, long-lived thread running `job`.
pub trait Spawner: Send + Sync {
    fn spawn(&self, name: String, job: Box<dyn FnOnce() + Send>) -> std::io::Result<()>;
}

/// Operating-system threads.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsThreads;

impl Spawner for OsThreads {
    fn spawn(&self, name: String, job: Box<dyn FnOnce() + Send>) -> std::io::Result<()> {
        std::thread::Builder::new().name(name).spawn(job).map(|_| ())
    }
}
