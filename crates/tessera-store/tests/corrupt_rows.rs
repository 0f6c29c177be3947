//! A row that cannot be read back is corruption: an internal error (500),
//! never a "try again later" (503), since a retry reads the same row.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use sqlx::{Connection, SqliteConnection};
use tessera_core::OAuthError;
use tessera_core::amr::Amr;
use tessera_core::scope::ScopeSet;
use tessera_core::secret::Digest;
use tessera_core::store::prelude::*;
use tessera_core::store::{Consent, DeviceCode, DeviceStatus, GrantFilter, Session, StoreError, User};
use tessera_proto::ErrorCode;
use tessera_store::{SqliteOptions, SqliteStore, conformance};

async fn corrupted(sql: &str) -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tessera.db");
    let store = SqliteStore::open(&SqliteOptions::new(&path), true).await.expect("open");
    store.insert_client(&conformance::client("c1", 100)).await.unwrap();
    let user = User {
        id: "u1".into(),
        username: "alice".into(),
        email: "alice@example.com".into(),
        name: None,
        password_hash: "$argon2id$x".into(),
        disabled: false,
        created_at: 100,
        updated_at: 100,
    };
    store.insert_user(&user).await.unwrap();
    store.insert_session(&session()).await.unwrap();
    store.insert_device(&device()).await.unwrap();
    // A code redeemed (its grant "grant-1" stored), a refresh token of that
    // grant, an opaque token and a consent: every row with a typed scope or challenge.
    let code = conformance::code(1, "c1", i64::MAX);
    store.insert_code(&code).await.unwrap();
    store.redeem_code(&code.digest, &"c1".into(), 100, 10_000).await.unwrap();
    assert!(store.insert_refresh(&conformance::refresh(1, 10_000)).await.unwrap());
    store.insert_token(&conformance::token(1, 10_000)).await.unwrap();
    let consent =
        Consent { user_id: "u1".into(), client_id: "c1".into(), scope: conformance::scopes("a"), granted_at: 100 };
    store.put_consent(&consent).await.unwrap();
    let mut raw = SqliteConnection::connect(&format!("sqlite://{}", path.display())).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string())).execute(&mut raw).await.unwrap();
    (dir, store)
}

fn session() -> Session {
    let (digest, user_id) = (Digest::of(b"s1"), "u1".into());
    Session { id: "s1".into(), digest, user_id, auth_time: 100, amr: Amr::Pwd.into(), created_at: 100, expires_at: 200 }
}

fn device() -> DeviceCode {
    let (device_digest, user_digest) = (Digest::of(b"d1"), Digest::of(b"u1"));
    DeviceCode {
        device_digest,
        user_digest,
        client_id: "c1".into(),
        scope: ScopeSet::parse("a").unwrap(),
        audience: vec![],
        grant_id: "g1".into(),
        created_at: 100,
        expires_at: i64::MAX,
        interval: 5,
        last_poll_at: None,
        status: DeviceStatus::Pending,
    }
}

fn assert_internal(err: StoreError) {
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    let e = OAuthError::from(err);
    assert_eq!(e.code, ErrorCode::ServerError);
    assert!(std::error::Error::source(&e).is_some(), "the store error stays as the cause");
}

#[tokio::test]
async fn a_client_with_a_short_secret_digest_is_an_internal_error() {
    let (_dir, store) = corrupted("UPDATE clients SET secret_digest = x'00' WHERE client_id = 'c1'").await;
    assert_internal(store.get_client(&"c1".into()).await.expect_err("corrupt"));
}

#[tokio::test]
async fn a_user_whose_flag_is_not_a_number_is_an_internal_error() {
    let (_dir, store) = corrupted("UPDATE users SET disabled = 'maybe' WHERE id = 'u1'").await;
    assert_internal(store.get_user(&"u1".into()).await.expect_err("corrupt"));
    assert_internal(store.find_user("alice").await.expect_err("corrupt"));
}

#[tokio::test]
async fn a_client_whose_scope_does_not_parse_is_an_internal_error() {
    let sql =
        "UPDATE clients SET settings = json_set(settings, '$.scope', 'a \"quoted\" scope') WHERE client_id = 'c1'";
    let (_dir, store) = corrupted(sql).await;
    assert_internal(store.get_client(&"c1".into()).await.expect_err("corrupt"));
    assert_internal(store.list_clients().await.expect_err("corrupt"));
}

#[tokio::test]
async fn a_client_with_an_unknown_id_token_alg_is_an_internal_error_not_rs256() {
    let sql = "UPDATE clients SET settings = json_set(settings, '$.id_token_alg', 'HS256') WHERE client_id = 'c1'";
    let (_dir, store) = corrupted(sql).await;
    assert_internal(store.get_client(&"c1".into()).await.expect_err("corrupt"));
}

#[tokio::test]
async fn a_session_with_an_unknown_method_is_an_internal_error() {
    let (_dir, store) = corrupted("UPDATE sessions SET amr = 'pwd magic' WHERE id = 's1'").await;
    assert_internal(store.get_session(&session().digest).await.expect_err("corrupt"));
}

#[tokio::test]
async fn an_approved_device_code_without_its_user_is_an_internal_error() {
    let sql = "UPDATE device_codes SET status = 'approved', user_id = NULL, auth_time = 100, amr = 'pwd'";
    let (_dir, store) = corrupted(sql).await;
    assert_internal(store.poll_device(&device().device_digest, &"c1".into(), 200, 10_000).await.expect_err("corrupt"));
}

#[tokio::test]
async fn a_device_code_whose_scope_does_not_parse_is_an_internal_error() {
    let (_dir, store) = corrupted("UPDATE device_codes SET scope = 'a \"b\"'").await;
    assert_internal(store.find_device(&device().user_digest, 200).await.expect_err("corrupt"));
}

#[tokio::test]
async fn a_code_whose_challenge_is_not_s256_is_an_internal_error() {
    // Say, a `plain` challenge written by other means: never compared as it is.
    let (_dir, store) = corrupted("UPDATE auth_codes SET code_challenge = 'plain-challenge'").await;
    let code = conformance::code(1, "c1", i64::MAX);
    assert_internal(store.redeem_code(&code.digest, &"c1".into(), 200, 10_000).await.expect_err("corrupt"));
}

#[tokio::test]
async fn a_consent_grant_refresh_or_opaque_token_whose_scope_does_not_parse_is_an_internal_error() {
    let bad = "'a \"b\"'";
    let (_dir, store) = corrupted(&format!("UPDATE consents SET scope = {bad}")).await;
    assert_internal(store.get_consent(&"u1".into(), &"c1".into()).await.expect_err("corrupt"));
    let (_dir, store) = corrupted(&format!("UPDATE grants SET scope = {bad}")).await;
    assert_internal(store.get_grant("grant-1").await.expect_err("corrupt"));
    assert_internal(store.list_grants(&GrantFilter::default()).await.expect_err("corrupt"));
    let (_dir, store) = corrupted(&format!("UPDATE refresh_tokens SET scope = {bad}")).await;
    assert_internal(store.get_refresh(&conformance::refresh(1, 0).digest).await.expect_err("corrupt"));
    let (_dir, store) = corrupted(&format!("UPDATE access_tokens SET scope = {bad}")).await;
    assert_internal(store.get_token(&conformance::token(1, 0).digest).await.expect_err("corrupt"));
}

/// The driver's decode error stays behind the store's as its source, so the
/// log says which column could not be read and why.
#[tokio::test]
async fn a_corrupt_row_keeps_the_decode_error_as_its_source() {
    let (_dir, store) = corrupted("UPDATE users SET disabled = 'maybe' WHERE id = 'u1'").await;
    let err = store.get_user(&"u1".into()).await.expect_err("corrupt");
    let source = std::error::Error::source(&err).expect("a source");
    assert!(matches!(source.downcast_ref::<sqlx::Error>(), Some(sqlx::Error::ColumnDecode { .. })), "{source}");
    let logged = tessera_core::error::chain(&OAuthError::from(err)).to_string();
    assert!(logged.contains("corrupt record: cannot read a column: ") && logged.contains("disabled"), "{logged}");
}
