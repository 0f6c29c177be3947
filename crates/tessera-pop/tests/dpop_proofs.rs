//! RFC 9449 §4.3 checks, one refusal each, and the §11 attacks that live
//! at the proof layer. Proofs are crafted with jsonwebtoken (see
//! `dpop_support`), never with the crate's own signer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod dpop_support;

use dpop_support::*;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use tessera_pop::dpop::{
    DpopAlg, DpopError, ErrorKind, Expectation, MAX_PROOF_LEN, NonceRule, VerifiedProof, ath, verify_proof,
};
use tessera_pop::jwk_thumbprint;
use tessera_pop::nonce::NonceIssuer;
use tessera_pop::replay::{MemoryReplayCache, ReplayError};

fn verify(proof: &str, expect: &Expectation<'_>) -> Result<VerifiedProof, DpopError> {
    block_on(verify_proof(&[proof], expect))
}

/// A proof with one claim changed (and a jti of its own, so that proofs
/// of one test do not replay each other).
fn with_claim(key: &TestKey, name: &str, value: Value) -> String {
    let mut c = claims(&format!("{name}={value}"));
    c[name] = value;
    key.proof(&c)
}

#[test]
fn a_proof_of_each_algorithm_verifies_and_names_its_key() {
    for key in [
        TestKey::ed25519(),
        TestKey::es256(),
        TestKey::es384(),
        TestKey::rsa(Algorithm::RS256),
        TestKey::rsa(Algorithm::PS256),
    ] {
        let ctx = Ctx::new();
        let got = verify(&key.proof(&claims("id-1")), &ctx.expect()).unwrap();
        assert_eq!(got.alg.as_str(), alg_name(key.alg));
        assert_eq!(got.jkt, jwk_thumbprint::thumbprint(&key.jwk).unwrap());
        assert_eq!((got.jti.as_str(), got.iat, got.nonce), ("id-1", NOW, None));
    }
}

#[test]
fn a_replayed_proof_is_refused() {
    let key = TestKey::ed25519();
    let ctx = Ctx::new();
    let proof = key.proof(&claims("once"));
    assert!(verify(&proof, &ctx.expect()).is_ok());
    assert_eq!(verify(&proof, &ctx.expect()), Err(DpopError::Replayed));
    let later = Expectation { now: NOW + 60, ..ctx.expect() };
    assert_eq!(verify(&proof, &later), Err(DpopError::Replayed), "still remembered at the window's edge");
    // The same jti from another key is another proof (§11.1: unique per key and target).
    assert!(verify(&TestKey::ed25519().proof(&claims("once")), &ctx.expect()).is_ok());
}

#[test]
fn a_proof_for_another_url_or_method_is_refused() {
    let key = TestKey::es256();
    let ctx = Ctx::new();
    for (htu, ok) in [
        ("https://as.example/oauth2/token?x=1#f", true),
        ("HTTPS://AS.EXAMPLE:443/oauth2/token", true),
        ("https://as.example/oauth2/%74oken", true),
        ("https://as.example/oauth2/userinfo", false),
        ("https://evil.example/oauth2/token", false),
        ("http://as.example/oauth2/token", false),
        ("https://as.example:8443/oauth2/token", false),
        ("https://as.example/oauth2/token/", false),
        ("/oauth2/token", false),
    ] {
        let got = verify(&with_claim(&key, "htu", json!(htu)), &ctx.expect());
        if ok {
            assert!(got.is_ok(), "{htu}: {got:?}");
        } else {
            assert_eq!(got, Err(DpopError::WrongUrl), "{htu}");
        }
    }
    for htm in ["GET", "post", "PUT", ""] {
        assert_eq!(verify(&with_claim(&key, "htm", json!(htm)), &ctx.expect()), Err(DpopError::WrongMethod), "{htm}");
    }
}

#[test]
fn a_proof_signed_by_another_key_than_its_jwk_is_refused() {
    let (key, thief) = (TestKey::ed25519(), TestKey::ed25519());
    let mut header = thief.header_json();
    header["jwk"] = key.jwk.clone();
    let ctx = Ctx::new();
    assert_eq!(verify(&thief.craft(&header, &claims("j")), &ctx.expect()), Err(DpopError::BadSignature));
    // Changing a claim under a valid signature is the same failure.
    let proof = key.proof(&claims("j"));
    let parts: Vec<&str> = proof.split('.').collect();
    let forged = format!("{}.{}.{}", parts[0], b64(claims("k").to_string().as_bytes()), parts[2]);
    assert_eq!(verify(&forged, &ctx.expect()), Err(DpopError::BadSignature));
}

#[test]
fn a_jwk_with_private_members_is_refused() {
    let key = TestKey::rsa(Algorithm::RS256);
    let ctx = Ctx::new();
    for member in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
        let mut header = key.header_json();
        header["jwk"][member] = json!("AQAB");
        assert_eq!(verify(&key.craft(&header, &claims("j")), &ctx.expect()), Err(DpopError::PrivateKey), "{member}");
    }
    let mut header = key.header_json();
    header["jwk"]["d"] = Value::Null;
    assert_eq!(verify(&key.craft(&header, &claims("j")), &ctx.expect()), Err(DpopError::PrivateKey), "even null");
    let sym = TestKey::ed25519();
    let mut header = sym.header_json();
    header["jwk"] = json!({"kty":"oct","k":"c2VjcmV0"});
    assert_eq!(verify(&sym.craft(&header, &claims("j")), &ctx.expect()), Err(DpopError::PrivateKey));
}

#[test]
fn alg_none_hmac_and_unlisted_algorithms_are_refused() {
    let key = TestKey::es256();
    let ctx = Ctx::new();
    let claims = claims("j");
    let unsigned = format!(
        "{}.{}.",
        b64(json!({"typ":"dpop+jwt","alg":"none","jwk":key.jwk}).to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    assert_eq!(verify(&unsigned, &ctx.expect()), Err(DpopError::Algorithm("none".into())));
    // HS256 with the public key's bytes as the secret: the classic confusion.
    let secret = jsonwebtoken::EncodingKey::from_secret(key.jwk.to_string().as_bytes());
    let mut h = jsonwebtoken::Header::new(Algorithm::HS256);
    h.typ = Some("dpop+jwt".into());
    h.jwk = key.header().jwk;
    let hs = jsonwebtoken::encode(&h, &claims, &secret).unwrap();
    assert_eq!(verify(&hs, &ctx.expect()), Err(DpopError::Algorithm("HS256".into())));
    for alg in ["NONE", "es256", "ES512", "RS512"] {
        let mut header = key.header_json();
        header["alg"] = json!(alg);
        assert_eq!(verify(&key.craft(&header, &claims), &ctx.expect()), Err(DpopError::Algorithm(alg.into())));
    }
    let only_ed = Expectation { algorithms: &[DpopAlg::EdDSA], ..ctx.expect() };
    assert_eq!(verify(&key.proof(&claims), &only_ed), Err(DpopError::Algorithm("ES256".into())));
    // ES256 claimed over an Ed25519 key, or over a P-384 key.
    for other in [TestKey::ed25519(), TestKey::es384()] {
        let mut header = key.header_json();
        header["jwk"] = other.jwk.clone();
        assert_eq!(verify(&key.craft(&header, &claims), &ctx.expect()), Err(DpopError::KeyAlgorithmMismatch));
    }
}

#[test]
fn header_faults_are_refused() {
    let key = TestKey::ed25519();
    let ctx = Ctx::new();
    let c = claims("j");
    let craft = |f: &dyn Fn(&mut Value)| {
        let mut h = key.header_json();
        f(&mut h);
        verify(&key.craft(&h, &c), &ctx.expect())
    };
    assert_eq!(craft(&|h| h["typ"] = json!("JWT")), Err(DpopError::WrongType));
    assert_eq!(craft(&|h| h["typ"] = json!("at+jwt")), Err(DpopError::WrongType));
    assert_eq!(craft(&|h| _ = h.as_object_mut().unwrap().remove("typ")), Err(DpopError::WrongType));
    assert!(craft(&|h| h["typ"] = json!("application/DPoP+JWT")).is_ok());
    assert_eq!(craft(&|h| _ = h.as_object_mut().unwrap().remove("jwk")), Err(DpopError::MissingJwk));
    assert_eq!(craft(&|h| h["crit"] = json!(["exp"])), Err(DpopError::Critical));
    assert_eq!(craft(&|h| h["jwk"]["crv"] = json!("Ed448")), Err(DpopError::KeyAlgorithmMismatch));
    assert_eq!(craft(&|h| h["jwk"]["x"] = json!("AAAA")), Err(DpopError::BadKey));
    assert_eq!(craft(&|h| _ = h["jwk"].as_object_mut().unwrap().remove("x")), Err(DpopError::BadKey));
    assert_eq!(craft(&|h| h["jwk"] = json!("not an object")), Err(DpopError::Malformed));
    // Duplicate header members are ambiguous: refused, not "last one wins".
    let dup = format!(r#"{{"typ":"dpop+jwt","alg":"none","alg":"EdDSA","jwk":{}}}"#, key.jwk);
    let input = format!("{}.{}", b64(dup.as_bytes()), b64(c.to_string().as_bytes()));
    let sig = jsonwebtoken::crypto::sign(input.as_bytes(), &key.enc, key.alg).unwrap();
    assert_eq!(verify(&format!("{input}.{sig}"), &ctx.expect()), Err(DpopError::Malformed));
    for junk in ["", "a", "a.b", "a.b.c.d", "!!.e30.x", "e30.e30.", "\u{e9}.e30.e30"] {
        assert_eq!(verify(junk, &ctx.expect()), Err(DpopError::Malformed), "{junk}");
    }
}

#[test]
fn claim_faults_are_refused() {
    let key = TestKey::es256();
    let ctx = Ctx::new();
    for name in ["jti", "htm", "htu", "iat"] {
        let mut c = claims("j");
        c.as_object_mut().unwrap().remove(name);
        assert_eq!(verify(&key.proof(&c), &ctx.expect()), Err(DpopError::MissingClaim(name)), "{name}");
    }
    assert_eq!(verify(&with_claim(&key, "jti", json!("")), &ctx.expect()), Err(DpopError::BadJti));
    let long = "j".repeat(257);
    assert_eq!(verify(&with_claim(&key, "jti", json!(long)), &ctx.expect()), Err(DpopError::BadJti));
    assert!(verify(&with_claim(&key, "jti", json!("j".repeat(256))), &ctx.expect()).is_ok());
    assert_eq!(verify(&with_claim(&key, "iat", json!("now")), &ctx.expect()), Err(DpopError::Malformed));
    assert_eq!(verify(&with_claim(&key, "jti", json!(7)), &ctx.expect()), Err(DpopError::Malformed));
    let frac = with_claim(&key, "iat", json!(NOW as f64 + 0.5));
    assert_eq!(verify(&frac, &ctx.expect()).map(|p| p.iat), Ok(NOW));
}

#[test]
fn stale_and_future_iat_are_refused() {
    let key = TestKey::ed25519();
    let ctx = Ctx::new();
    let at = |iat: i64| verify(&with_claim(&key, "iat", json!(iat)), &ctx.expect()).map(|p| p.iat);
    assert_eq!(at(NOW - 60), Ok(NOW - 60));
    assert_eq!(at(NOW - 61), Err(DpopError::Stale));
    assert_eq!(at(NOW - 86_400), Err(DpopError::Stale));
    assert_eq!(at(NOW + 5), Ok(NOW + 5));
    assert_eq!(at(NOW + 6), Err(DpopError::Future));
    assert_eq!(at(i64::MAX), Err(DpopError::Future));
    assert_eq!(at(i64::MIN), Err(DpopError::Stale));
}

#[test]
fn a_stolen_token_with_the_thiefs_fresh_proof_is_refused() {
    let (owner, thief) = (TestKey::ed25519(), TestKey::es256());
    let owner_jkt = jwk_thumbprint::thumbprint(&owner.jwk).unwrap();
    let ctx = Ctx::new();
    let token = "stolen-access-token";
    let bound = Expectation { access_token: Some(token), bound_jkt: Some(&owner_jkt), ..ctx.expect() };
    // The owner's proof passes.
    assert!(verify(&with_claim(&owner, "ath", json!(ath(token))), &bound).is_ok());
    // The thief's proof with the right ath: signed by the wrong key.
    let mut c = claims("t1");
    c["ath"] = json!(ath(token));
    assert_eq!(verify(&thief.proof(&c), &bound), Err(DpopError::WrongKey));
    // A proof made for another token, or none at all.
    c["ath"] = json!(ath("another-token"));
    c["jti"] = json!("o2");
    assert_eq!(verify(&owner.proof(&c), &bound), Err(DpopError::WrongAth));
    assert_eq!(verify(&owner.proof(&claims("o3")), &bound), Err(DpopError::MissingAth));
}

#[test]
fn header_count_and_size_are_checked_before_parsing() {
    let key = TestKey::ed25519();
    let ctx = Ctx::new();
    let proof = key.proof(&claims("j"));
    let none: [&str; 0] = [];
    assert_eq!(block_on(verify_proof(&none, &ctx.expect())), Err(DpopError::Missing));
    let two = [proof.clone(), key.proof(&claims("k"))];
    assert_eq!(block_on(verify_proof(&two, &ctx.expect())), Err(DpopError::MultipleHeaders));
    let same_twice = [proof.as_str(), proof.as_str()];
    assert_eq!(block_on(verify_proof(&same_twice, &ctx.expect())), Err(DpopError::MultipleHeaders));
    let folded = format!("{proof}, {proof}");
    assert_eq!(verify(&folded, &ctx.expect()), Err(DpopError::MultipleHeaders));
    // A valid signature over a huge claim set is still refused on size alone.
    let big = with_claim(&key, "pad", json!("x".repeat(MAX_PROOF_LEN)));
    assert_eq!(verify(&big, &ctx.expect()), Err(DpopError::TooLarge));
    assert_eq!(verify(&"a".repeat(MAX_PROOF_LEN + 1), &ctx.expect()), Err(DpopError::TooLarge));
    assert_eq!(verify(&"a".repeat(MAX_PROOF_LEN), &ctx.expect()), Err(DpopError::Malformed));
    // Bytes, as an HTTP library hands them over, work too.
    assert!(block_on(verify_proof(&[proof.as_bytes()], &ctx.expect())).is_ok());
}

#[test]
fn nonces_when_required_or_offered() {
    let key = TestKey::es256();
    let ctx = Ctx::new();
    let issuer = NonceIssuer::new([7; 32], std::time::Duration::from_secs(300));
    let check = |n: &str| issuer.check(n, NOW);
    let required = Expectation { nonce: NonceRule::Required(&check), ..ctx.expect() };
    let missing = verify(&key.proof(&claims("n1")), &required);
    assert_eq!(missing, Err(DpopError::NonceMissing));
    let e = missing.unwrap_err();
    assert_eq!((e.kind(), e.error_code()), (ErrorKind::UseNonce, "use_dpop_nonce"));
    let mut c = claims("n2");
    c["nonce"] = json!("made-up");
    let bad = verify(&key.proof(&c), &required);
    assert_eq!(bad.as_ref().map_err(DpopError::error_code), Err("use_dpop_nonce"));
    assert_eq!(bad, Err(DpopError::NonceInvalid));
    let stale = issuer.issue(NOW - 600);
    c["nonce"] = json!(stale);
    assert_eq!(verify(&key.proof(&c), &required), Err(DpopError::NonceInvalid));
    let fresh = issuer.issue(NOW);
    c["nonce"] = json!(fresh);
    assert_eq!(verify(&key.proof(&c), &required).map(|p| p.nonce), Ok(Some(fresh.clone())));
    // Optional: absent passes, present is checked.
    let optional = Expectation { nonce: NonceRule::IfPresent(&check), ..ctx.expect() };
    assert!(verify(&key.proof(&claims("n3")), &optional).is_ok());
    c["jti"] = json!("n4");
    c["nonce"] = json!("made-up");
    assert_eq!(verify(&key.proof(&c), &optional), Err(DpopError::NonceInvalid));
    // Not used: ignored.
    assert_eq!(verify(&key.proof(&c), &ctx.expect()).map(|p| p.nonce), Ok(None));
}

#[test]
fn error_codes_and_a_full_replay_cache() {
    assert_eq!(DpopError::Replayed.error_code(), "invalid_dpop_proof");
    assert_eq!(DpopError::BadSignature.kind(), ErrorKind::InvalidProof);
    let key = TestKey::ed25519();
    let ctx = Ctx { cache: MemoryReplayCache::new(1), ..Ctx::new() };
    assert!(verify(&key.proof(&claims("a")), &ctx.expect()).is_ok());
    let full = verify(&key.proof(&claims("b")), &ctx.expect());
    assert_eq!(full, Err(DpopError::ReplayCache(ReplayError::Full)));
    let e = full.unwrap_err();
    assert_eq!((e.kind(), e.error_code()), (ErrorKind::Unavailable, "temporarily_unavailable"));
    // Invalid proofs never reach the cache, so they cannot fill it.
    let ctx = Ctx { cache: MemoryReplayCache::new(1), ..Ctx::new() };
    assert_eq!(verify(&with_claim(&key, "htm", json!("GET")), &ctx.expect()), Err(DpopError::WrongMethod));
    assert!(ctx.cache.is_empty());
}

#[test]
fn the_check_can_run_in_a_multi_threaded_server() {
    fn send<T: Send>(t: T) -> T {
        t
    }
    let key = TestKey::ed25519();
    let ctx = Ctx::new();
    let issuer = NonceIssuer::new([1; 32], std::time::Duration::from_secs(60));
    let check = |n: &str| issuer.check(n, NOW);
    let expect = Expectation { nonce: NonceRule::IfPresent(&check), ..ctx.expect() };
    let values = vec![key.proof(&claims("s"))];
    // An axum handler's future must be Send: so must this one be.
    assert!(block_on(send(verify_proof(&values, &expect))).is_ok());
}
