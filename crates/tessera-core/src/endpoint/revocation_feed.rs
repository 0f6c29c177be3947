//! The revocation feed, `GET /oauth2/revocations?after=SEQ` (Tessera's own
//! endpoint; wire types in `tessera_proto::revocation`).
//!
//! Resource servers follow it to refuse a revoked JWT long before its `exp`.
//! Only clients registered as resource servers (`introspection`) may read it,
//! authenticated by the `Authorization` header alone (RFC 6749 §2.3.1): it is
//! a GET, and credentials never travel in a URL. The HTTP layer does the
//! long-polling, waiting on [`crate::revocations::Revocations::feed_watch`].

use tessera_proto::{RevocationFeed, RevocationFeedEntry, RevokedKind};

use crate::client::MAX_ACCESS_TOKEN_TTL;
use crate::client_auth::{AuthMethod, ClientCall};
use crate::error::OAuthError;
use crate::ids::ClientId;
use crate::store::{Revocation, RevocationEntry, RevokedToken, Store};

/// Most entries one answer carries; a reader far behind pages through.
pub const MAX_FEED_PAGE: u32 = 10_000;

/// Checks that the caller may read the feed: `call` is read from the
/// `Authorization` header and an empty form.
pub fn authorize_reader(call: &ClientCall) -> Result<ClientId, OAuthError> {
    let caller = call.authenticate()?;
    if caller.method() == AuthMethod::None {
        return Err(OAuthError::invalid_client("public clients cannot read the revocation feed"));
    }
    if !caller.client().settings.introspection {
        return Err(OAuthError::unauthorized_client(
            "only clients registered for introspection (resource servers) may read the revocation feed",
        ));
    }
    Ok(caller.client().id.clone())
}

/// Entries after `after`, oldest first, and the feed's head.
pub async fn page(store: &dyn Store, after: i64, limit: u32) -> Result<RevocationFeed, OAuthError> {
    let entries = store.revocations_after(after, limit.clamp(1, MAX_FEED_PAGE)).await?;
    let head = store.revocation_head().await?;
    let head = entries.last().map_or(head, |e| e.seq.max(head));
    Ok(RevocationFeed { revocations: entries.iter().map(feed_entry).collect(), head })
}

fn feed_entry(e: &RevocationEntry) -> RevocationFeedEntry {
    let r = &e.revocation;
    let (kind, value) = match &r.token {
        RevokedToken::Jti(j) => (RevokedKind::Jti, j.clone()),
        RevokedToken::Opaque(d) => (RevokedKind::TokenSha256, d.to_hex()),
        RevokedToken::Grant(g) => (RevokedKind::Grant, g.clone()),
        RevokedToken::Client(c) => (RevokedKind::Client, c.clone()),
        RevokedToken::Key(k) => (RevokedKind::Key, k.clone()),
    };
    RevocationFeedEntry {
        seq: e.seq,
        kind,
        value,
        client_id: r.client_id.clone(),
        exp: r.expires_at,
        revoked_at: r.revoked_at,
    }
}

/// What deleting a client records: every token it holds stops working
/// everywhere, including JWTs at resource servers that never call us.
/// Kept for the longest access-token lifetime any client can have.
pub fn client_deleted(client_id: &ClientId, now: i64) -> Revocation {
    Revocation {
        token: RevokedToken::Client(client_id.to_string()),
        client_id: client_id.to_string(),
        expires_at: now.saturating_add(MAX_ACCESS_TOKEN_TTL as i64),
        revoked_at: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Digest;

    #[test]
    fn entries_name_what_they_revoke() {
        let r = |token| RevocationEntry {
            seq: 7,
            revocation: Revocation { token, client_id: "c".into(), expires_at: 100, revoked_at: 50 },
        };
        let d = Digest::of(b"tsr_at_x");
        let e = feed_entry(&r(RevokedToken::Opaque(d)));
        assert_eq!((e.kind, e.value.as_str()), (RevokedKind::TokenSha256, d.to_hex().as_str()));
        assert_eq!(e.value.len(), 64);
        let e = feed_entry(&r(RevokedToken::Grant("g".into())));
        assert_eq!((e.kind, e.seq, e.exp, e.revoked_at), (RevokedKind::Grant, 7, 100, 50));
        let c = client_deleted(&"svc".into(), 1_000);
        assert_eq!(c.token, RevokedToken::Client("svc".into()));
        assert_eq!(c.expires_at, 1_000 + MAX_ACCESS_TOKEN_TTL as i64);
    }
}
