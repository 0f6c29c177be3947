//! Opaque access tokens, the one write of every opaque issuance:
//! group-committed (`batch.rs`) as one `INSERT … SELECT FROM UNNEST(…)`
//! per batch.

use sqlx::PgPool;
use tessera_core::secret::TokenKey;
use tessera_core::store::{OpaqueToken, StoreError};

use super::batch::{Answers, Queue, Writes};
use super::map_err;
use crate::sql::json_list;

pub(super) fn start(pool: PgPool) -> Queue<OpaqueToken, ()> {
    Queue::start(pool, Writes { run, bytes })
}

/// Roughly what a token adds to a batch's parameters.
fn bytes(t: &OpaqueToken) -> usize {
    let text =
        t.jti.len() + t.client_id.as_str().len() + t.subject.len() + t.scope.iter().map(|x| x.len() + 1).sum::<usize>();
    let audience: usize = t.audience.iter().map(|a| a.len() + 3).sum();
    let grant = t.grant_id.as_ref().map_or(0, String::len);
    let jkt = t.jkt.as_ref().map_or(0, String::len);
    // The key, three integers, and a length word per array element.
    32 + 3 * 8 + 11 * 4 + text + audience + grant + jkt
}

fn run(pool: PgPool, tokens: Vec<OpaqueToken>) -> Answers<()> {
    Box::pin(async move {
        match insert(&pool, &tokens).await {
            Ok(()) => tokens.iter().map(|_| Ok(())).collect(),
            // One duplicate digest must not fail its neighbours: retry one by one.
            Err(StoreError::Conflict) if tokens.len() > 1 => {
                let mut out = Vec::with_capacity(tokens.len());
                for t in &tokens {
                    out.push(insert(&pool, std::slice::from_ref(t)).await);
                }
                out
            }
            Err(e) => tokens.iter().map(|_| Err(e.clone())).collect(),
        }
    })
}

async fn insert(pool: &PgPool, tokens: &[OpaqueToken]) -> Result<(), StoreError> {
    let (mut digest, mut jti, mut client, mut subject, mut scope, mut audience) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut issued, mut expires, mut auth_time, mut grant, mut jkt) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for t in tokens {
        digest.push(TokenKey { id: t.id, sha256: t.digest }.stored().0.to_vec());
        jti.push(t.jti.clone());
        client.push(t.client_id.to_string());
        subject.push(t.subject.clone());
        scope.push(t.scope.to_string());
        audience.push(json_list(&t.audience)?);
        issued.push(t.issued_at);
        expires.push(t.expires_at);
        auth_time.push(t.auth_time);
        grant.push(t.grant_id.clone());
        jkt.push(t.jkt.clone());
    }
    sqlx::query(
        "INSERT INTO access_tokens (digest, jti, client_id, subject, scope, audience, issued_at, expires_at, \
         auth_time, grant_id, jkt) SELECT * FROM UNNEST($1::bytea[], $2::text[], $3::text[], $4::text[], \
         $5::text[], $6::text[], $7::int8[], $8::int8[], $9::int8[], $10::text[], $11::text[])",
    )
    .bind(digest)
    .bind(jti)
    .bind(client)
    .bind(subject)
    .bind(scope)
    .bind(audience)
    .bind(issued)
    .bind(expires)
    .bind(auth_time)
    .bind(grant)
    .bind(jkt)
    .execute(pool)
    .await
    .map_err(map_err)
    .map(|_| ())
}
