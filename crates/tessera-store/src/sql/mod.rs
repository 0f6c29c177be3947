//! The SQL both backends share: row mapping, statement text, the CRUD that
//! is the same on SQLite and PostgreSQL, and one error mapping. Every
//! function here is generic over a [`Dialect`] (implemented for
//! [`sqlx::Sqlite`] and [`sqlx::Postgres`]) and runs on whatever executor
//! the backend hands it (a pool, a held connection, a transaction, the
//! SQLite writer's batch), so each backend keeps only what really differs:
//! where a statement runs, single-use consumption, group commit and
//! cross-process signals.
//!
//! Both dialects take `$1` placeholders; booleans are bound as `bool`
//! (SQLite stores 0/1) and lists as JSON text, so one statement serves both.

pub(crate) mod accounts;
pub(crate) mod codes;
pub(crate) mod config;
pub(crate) mod device;
pub(crate) mod purge;
pub(crate) mod refresh;
pub(crate) mod replays;
pub(crate) mod revocations;
pub(crate) mod rows;

use std::borrow::Cow;
use std::error::Error;

use sqlx::IntoArguments;
use sqlx::query::Query;
use sqlx::{Database, Decode, Encode, Postgres, Row as _, Sqlite, Type};
use tessera_core::amr::AmrSet;
use tessera_core::pkce::CodeChallenge;
use tessera_core::scope::ScopeSet;
use tessera_core::secret::Digest;
use tessera_core::store::{Cause, StoreError};

/// A value either database can bind.
pub(crate) trait Param:
    for<'a> Encode<'a, Sqlite> + Type<Sqlite> + for<'a> Encode<'a, Postgres> + Type<Postgres>
{
}
impl<T> Param for T where T: for<'a> Encode<'a, Sqlite> + Type<Sqlite> + for<'a> Encode<'a, Postgres> + Type<Postgres> {}

/// A value either database can read back.
pub(crate) trait Col:
    for<'r> Decode<'r, Sqlite> + Type<Sqlite> + for<'r> Decode<'r, Postgres> + Type<Postgres>
{
}
impl<T> Col for T where T: for<'r> Decode<'r, Sqlite> + Type<Sqlite> + for<'r> Decode<'r, Postgres> + Type<Postgres> {}

/// A result row of either database; a column that cannot be read is corruption.
pub(crate) trait SqlRow {
    fn col<T: Col>(&self, name: &str) -> Result<T, StoreError>;

    fn digest(&self, name: &str) -> Result<Digest, StoreError> {
        let b: Vec<u8> = self.col(name)?;
        Digest::from_slice(&b).ok_or_else(|| corrupt("digest length"))
    }

    /// RFC 8176 method references, stored space-separated; NULL is none.
    fn amr(&self, name: &str) -> Result<AmrSet, StoreError> {
        let s: Option<String> = self.col(name)?;
        AmrSet::parse(s.as_deref().unwrap_or_default()).map_err(|e| corrupt_by(format!("column {name}"), e))
    }

    /// A scope string (RFC 6749 §3.3), stored as written by a parsed set.
    fn scope(&self, name: &str) -> Result<ScopeSet, StoreError> {
        let s: String = self.col(name)?;
        ScopeSet::parse(&s).map_err(|e| corrupt_by(format!("column {name}"), e))
    }

    /// An id column, typed ([`tessera_core::ids::ClientId`], [`tessera_core::ids::UserId`]).
    fn id<T: From<String>>(&self, name: &str) -> Result<T, StoreError> {
        self.col::<String>(name).map(T::from)
    }

    /// An RFC 7636 S256 challenge, stored as written by a checked one.
    fn challenge(&self, name: &str) -> Result<CodeChallenge, StoreError> {
        let s: String = self.col(name)?;
        CodeChallenge::parse(&s).map_err(|e| corrupt_by(format!("column {name}"), e))
    }

    /// A JSON array of strings (audiences).
    fn list(&self, name: &str) -> Result<Vec<String>, StoreError> {
        let s: String = self.col(name)?;
        serde_json::from_str(&s).map_err(|e| corrupt_by(format!("column {name}"), e))
    }
}

impl SqlRow for sqlx::sqlite::SqliteRow {
    fn col<T: Col>(&self, name: &str) -> Result<T, StoreError> {
        self.try_get(name).map_err(|e| corrupt_by("cannot read a column", e))
    }
}

impl SqlRow for sqlx::postgres::PgRow {
    fn col<T: Col>(&self, name: &str) -> Result<T, StoreError> {
        self.try_get(name).map_err(|e| corrupt_by("cannot read a column", e))
    }
}

/// What the shared SQL needs of a database.
pub(crate) trait Dialect: Database<Arguments: IntoArguments<Self>, Row: SqlRow> {
    fn bind<T: Param>(q: Query<'_, Self, Self::Arguments>, value: T) -> Query<'_, Self, Self::Arguments>;
    fn rows_affected(done: &Self::QueryResult) -> u64;
}

impl Dialect for Sqlite {
    fn bind<T: Param>(q: Query<'_, Self, Self::Arguments>, value: T) -> Query<'_, Self, Self::Arguments> {
        q.bind(value)
    }
    fn rows_affected(done: &Self::QueryResult) -> u64 {
        done.rows_affected()
    }
}

impl Dialect for Postgres {
    fn bind<T: Param>(q: Query<'_, Self, Self::Arguments>, value: T) -> Query<'_, Self, Self::Arguments> {
        q.bind(value)
    }
    fn rows_affected(done: &Self::QueryResult) -> u64 {
        done.rows_affected()
    }
}

/// `.arg(v)`: [`Query::bind`] for a generic [`Dialect`].
pub(crate) trait Bind: Sized {
    fn arg<T: Param>(self, value: T) -> Self;
}

impl<'q, DB: Dialect> Bind for Query<'q, DB, DB::Arguments> {
    fn arg<T: Param>(self, value: T) -> Self {
        DB::bind(self, value)
    }
}

/// A statement of `sql`, generic over the database.
pub(crate) fn query<'q, DB: Dialect>(sql: &'static str) -> Query<'q, DB, DB::Arguments> {
    sqlx::query(sql)
}

/// Runs a statement and says how many rows it changed.
pub(crate) async fn affected<'c, DB: Dialect>(
    q: Query<'_, DB, DB::Arguments>,
    e: impl sqlx::Executor<'c, Database = DB>,
) -> Result<u64, StoreError> {
    q.execute(e).await.map(|done| DB::rows_affected(&done)).map_err(map_err)
}

/// The store cannot answer, for the reason `context` says.
pub(crate) fn unavailable(context: impl Into<Cow<'static, str>>) -> StoreError {
    StoreError::Unavailable(Cause::msg(context))
}

/// The store cannot answer: `context`, caused by `e` (kept as the
/// error's [`source`](std::error::Error::source)).
pub(crate) fn unavailable_by(
    context: impl Into<Cow<'static, str>>,
    e: impl Error + Send + Sync + 'static,
) -> StoreError {
    StoreError::Unavailable(Cause::new(context, e))
}

/// A row that cannot be read back, for the reason `context` says.
pub(crate) fn corrupt(context: impl Into<Cow<'static, str>>) -> StoreError {
    StoreError::Corrupt(Cause::msg(context))
}

/// A row that cannot be read back: `context`, caused by `e`.
pub(crate) fn corrupt_by(context: impl Into<Cow<'static, str>>, e: impl Error + Send + Sync + 'static) -> StoreError {
    StoreError::Corrupt(Cause::new(context, e))
}

/// Unique violations are conflicts; everything else (connections, pool and
/// statement timeouts, locks, serialization failures) means the store is
/// unavailable, with the driver's error as the source. Reading a row back
/// is [`corrupt`] instead.
pub(crate) fn map_err(e: sqlx::Error) -> StoreError {
    let context = match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => return StoreError::Conflict,
        sqlx::Error::Database(_) => "the database refused the statement",
        sqlx::Error::PoolTimedOut => "no connection free in time",
        sqlx::Error::PoolClosed => "the connection pool is closed",
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) => "cannot reach the database",
        _ => "the statement failed",
    };
    unavailable_by(context, e)
}

/// A list as the JSON text both schemas store.
pub(crate) fn json_list(list: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(list).map_err(|e| unavailable_by("cannot encode a list", e))
}

/// Of the rows sharing a key's lookup id, the one whose whole key is
/// `want`, compared in constant time ([`Digest::ct_eq`]).
pub(crate) fn with_key<T>(rows: Vec<T>, key: impl Fn(&T) -> Digest, want: &Digest) -> Option<T> {
    rows.into_iter().find(|r| key(r).ct_eq(want))
}
