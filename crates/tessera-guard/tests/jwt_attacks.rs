//! The JWT attack catalogue: each forged, misused or malformed token is
//! refused, and for the reason we expect (so a test cannot pass by accident).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use aws_lc_rs::hmac;
use base64ct::Encoding;
use common::{AUD, Issuer, b64, now, signing_input};
use serde_json::json;
use tessera_guard::{Guard, Invalid, Rejection};

async fn setup() -> (Issuer, Guard) {
    let issuer = Issuer::start().await;
    let guard = issuer.guard().await.build().await.unwrap();
    (issuer, guard)
}

async fn refused(guard: &Guard, token: &str) -> Invalid {
    match guard.validate(token).await {
        Err(Rejection::Invalid(why)) => why,
        other => panic!("expected an invalid token, got {other:?}"),
    }
}

#[tokio::test]
async fn a_good_token_is_accepted() {
    let (issuer, guard) = setup().await;
    let a = guard.validate(&issuer.token()).await.unwrap();
    assert_eq!((a.subject(), a.client_id()), ("alice", "app"));
    assert!(a.has_scope("inventory:read") && !a.has_scope("inventory:write"));
    // ES256 keys work too, each under its own algorithm.
    let h = json!({"alg": "ES256", "typ": "at+jwt", "kid": issuer.es_kid});
    guard.validate(&issuer.sign_es(&h, &issuer.claims())).await.unwrap();
}

#[tokio::test]
async fn alg_none_in_any_casing() {
    let (issuer, guard) = setup().await;
    for alg in ["none", "None", "NONE", "nOnE"] {
        let h = json!({"alg": alg, "typ": "at+jwt", "kid": issuer.ed_kid});
        let unsigned = format!("{}.", signing_input(&h, &issuer.claims()));
        assert_eq!(refused(&guard, &unsigned).await, Invalid::Algorithm(alg.into()));
        // Even with the real signature attached.
        let signed = issuer.sign_ed(&h, &issuer.claims());
        assert_eq!(refused(&guard, &signed).await, Invalid::Algorithm(alg.into()));
    }
}

#[tokio::test]
async fn hs256_signed_with_the_public_key() {
    let (issuer, guard) = setup().await;
    let h = json!({"alg": "HS256", "typ": "at+jwt", "kid": issuer.ed_kid});
    let input = signing_input(&h, &issuer.claims());
    // The raw key bytes, the JWK text and its base64url form: the classic confusions.
    let raw = aws_lc_rs::signature::KeyPair::public_key(&issuer.ed).as_ref().to_vec();
    for secret in [raw.clone(), issuer.ed_jwk().to_string().into_bytes(), b64(&raw).into_bytes()] {
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &secret), input.as_bytes());
        let token = format!("{input}.{}", b64(tag.as_ref()));
        assert_eq!(refused(&guard, &token).await, Invalid::Algorithm("HS256".into()));
    }
}

#[tokio::test]
async fn wrong_typ_and_id_tokens() {
    let (issuer, guard) = setup().await;
    for typ in [json!("JWT"), json!("jwt"), json!("dpop+jwt"), json!(null)] {
        let h = json!({"alg": "EdDSA", "typ": typ, "kid": issuer.ed_kid});
        assert_eq!(refused(&guard, &issuer.sign_ed(&h, &issuer.claims())).await, Invalid::NotAccessToken);
    }
    // An OpenID Connect ID token, signed by the same issuer, for the client.
    let t = now();
    let id_token = json!({"iss": issuer.url, "sub": "alice", "aud": "app", "exp": t + 300, "iat": t,
                          "nonce": "n", "auth_time": t, "azp": "app"});
    let h = json!({"alg": "EdDSA", "typ": "JWT", "kid": issuer.ed_kid});
    assert_eq!(refused(&guard, &issuer.sign_ed(&h, &id_token)).await, Invalid::NotAccessToken);
    // Even if it claimed at+jwt, it is not for this API and lacks RFC 9068 claims.
    let forged = issuer.sign_ed(&issuer.header(), &id_token);
    assert!(matches!(refused(&guard, &forged).await, Invalid::BadClaims | Invalid::WrongAudience));
}

#[tokio::test]
async fn time_issuer_and_audience() {
    let (issuer, guard) = setup().await;
    let with = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut c = issuer.claims();
        f(&mut c);
        issuer.sign_ed(&issuer.header(), &c)
    };
    let t = now();
    assert_eq!(refused(&guard, &with(&|c| c["exp"] = json!(t - 31))).await, Invalid::Expired);
    assert_eq!(refused(&guard, &with(&|c| c["nbf"] = json!(t + 120))).await, Invalid::NotYetValid);
    assert_eq!(refused(&guard, &with(&|c| c["iat"] = json!(t + 120))).await, Invalid::NotYetValid);
    let evil = with(&|c| c["iss"] = json!("https://evil.example"));
    assert_eq!(refused(&guard, &evil).await, Invalid::WrongIssuer("https://evil.example".into()));
    let trailing = with(&|c| c["iss"] = json!(format!("{}/", issuer.url)));
    assert!(matches!(refused(&guard, &trailing).await, Invalid::WrongIssuer(_)));
    assert_eq!(refused(&guard, &with(&|c| c["aud"] = json!("https://other.example"))).await, Invalid::WrongAudience);
    let others = with(&|c| c["aud"] = json!(["https://a.example", "https://b.example"]));
    assert_eq!(refused(&guard, &others).await, Invalid::WrongAudience);
    assert_eq!(refused(&guard, &with(&|c| c["aud"] = json!([]))).await, Invalid::WrongAudience);
    // An array that includes us is fine.
    guard.validate(&with(&|c| c["aud"] = json!(["https://a.example", AUD]))).await.unwrap();
    // Required claims missing or of the wrong type.
    for missing in ["exp", "iss", "aud", "sub", "jti", "client_id", "iat"] {
        let t = with(&|c| {
            c.as_object_mut().unwrap().remove(missing);
        });
        assert_eq!(refused(&guard, &t).await, Invalid::BadClaims, "without {missing}");
    }
    assert_eq!(refused(&guard, &with(&|c| c["exp"] = json!("tomorrow"))).await, Invalid::BadClaims);
    // A key-bound (DPoP) token is not a bearer token.
    let bound = with(&|c| c["cnf"] = json!({"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}));
    assert_eq!(refused(&guard, &bound).await, Invalid::SenderConstrained);
}

#[tokio::test]
async fn unknown_and_hostile_kids_cost_at_most_one_fetch_per_interval_and_are_refused() {
    let (issuer, guard) = setup().await;
    let before = issuer.jwks_fetches();
    let start = std::time::Instant::now();
    let kids = ["nope", "../../../../etc/passwd", "' OR '1'='1' --", "ed-1\u{0}", "", &"k".repeat(500)];
    for kid in kids {
        let h = json!({"alg": "EdDSA", "typ": "at+jwt", "kid": kid});
        assert_eq!(refused(&guard, &issuer.sign_ed(&h, &issuer.claims())).await, Invalid::UnknownKey, "{kid:.20}");
    }
    let no_kid = json!({"alg": "EdDSA", "typ": "at+jwt"});
    assert_eq!(refused(&guard, &issuer.sign_ed(&no_kid, &issuer.claims())).await, Invalid::UnknownKey);
    // Seven junk kids within ~2 s at one fetch per 300 ms at most.
    let fetches = issuer.jwks_fetches() - before;
    let limit = 1 + (start.elapsed().as_millis() / 300) as usize;
    assert!(fetches <= limit, "junk kids caused {fetches} fetches (limit {limit})");
}

#[tokio::test]
async fn keys_from_the_token_or_another_key_are_never_trusted() {
    let (issuer, guard) = setup().await;
    let attacker = Issuer::start().await; // a different Ed25519 key
    // Signed by another key under our kid.
    let h = json!({"alg": "EdDSA", "typ": "at+jwt", "kid": issuer.ed_kid});
    assert_eq!(refused(&guard, &attacker.sign_ed(&h, &issuer.claims())).await, Invalid::BadSignature);
    // The attacker's key embedded or referenced in the header.
    for (name, extra) in [
        ("jwk", json!(attacker.ed_jwk())),
        ("jku", json!(format!("{}/jwks", attacker.url))),
        ("x5u", json!("https://evil.example/cert.pem")),
        ("x5c", json!(["MIIB"])),
    ] {
        let mut h = json!({"alg": "EdDSA", "typ": "at+jwt", "kid": issuer.ed_kid});
        h[name] = extra;
        assert_eq!(refused(&guard, &attacker.sign_ed(&h, &issuer.claims())).await, Invalid::EmbeddedKey(name));
    }
    // An ES256 header on the Ed25519 key's kid.
    let h = json!({"alg": "ES256", "typ": "at+jwt", "kid": issuer.ed_kid});
    assert_eq!(refused(&guard, &issuer.sign_es(&h, &issuer.claims())).await, Invalid::AlgorithmMismatch("EdDSA"));
    // A guard configured for EdDSA only refuses ES256 outright.
    let ed_only = issuer.guard().await.algorithms(&[tessera_guard::Algorithm::EdDSA]).build().await.unwrap();
    let h = json!({"alg": "ES256", "typ": "at+jwt", "kid": issuer.es_kid});
    assert_eq!(refused(&ed_only, &issuer.sign_es(&h, &issuer.claims())).await, Invalid::Algorithm("ES256".into()));
}

#[tokio::test]
async fn crit_duplicates_tampering_and_size() {
    let (issuer, guard) = setup().await;
    let h = json!({"alg": "EdDSA", "typ": "at+jwt", "kid": issuer.ed_kid, "crit": ["exp"], "exp": 1});
    assert_eq!(refused(&guard, &issuer.sign_ed(&h, &issuer.claims())).await, Invalid::Critical);
    let h = json!({"alg": "EdDSA", "typ": "at+jwt", "kid": issuer.ed_kid, "crit": ["b64"], "b64": false});
    assert_eq!(refused(&guard, &issuer.sign_ed(&h, &issuer.claims())).await, Invalid::Critical);

    // Duplicate keys, written by hand (serde_json would merge them).
    let sign_raw = |header: &str, claims: &str| {
        let input = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
        let sig = issuer.ed.sign(input.as_bytes());
        format!("{input}.{}", b64(sig.as_ref()))
    };
    let good_claims = issuer.claims().to_string();
    let dup_header = format!(r#"{{"alg":"EdDSA","typ":"at+jwt","kid":"{}","kid":"other"}}"#, issuer.ed_kid);
    assert_eq!(refused(&guard, &sign_raw(&dup_header, &good_claims)).await, Invalid::Malformed);
    let header = issuer.header().to_string();
    let dup_sub = good_claims.replacen('{', r#"{"sub":"mallory","#, 1);
    assert_eq!(refused(&guard, &sign_raw(&header, &dup_sub)).await, Invalid::BadClaims);
    let dup_exp = good_claims.replacen('{', &format!(r#"{{"exp":{},"#, now() + 999_999), 1);
    assert_eq!(refused(&guard, &sign_raw(&header, &dup_exp)).await, Invalid::BadClaims);
    sign_raw(&header, &good_claims); // the control is fine
    guard.validate(&sign_raw(&header, &good_claims)).await.unwrap();

    // Tampered payload: more scope, same signature.
    let token = issuer.token();
    let mut parts: Vec<String> = token.split('.').map(String::from).collect();
    let mut c = issuer.claims();
    c["scope"] = json!("inventory:read inventory:write");
    parts[1] = b64(c.to_string().as_bytes());
    assert_eq!(refused(&guard, &parts.join(".")).await, Invalid::BadSignature);
    // Flipped signature bit; truncated signature; padding added.
    let mut sig = base64ct::Base64UrlUnpadded::decode_vec(token.rsplit('.').next().unwrap()).unwrap();
    sig[0] ^= 1;
    let flipped = format!("{}.{}", token.rsplit_once('.').unwrap().0, b64(&sig));
    assert_eq!(refused(&guard, &flipped).await, Invalid::BadSignature);
    let short = refused(&guard, &token[..token.len() - 4]).await;
    assert!(matches!(short, Invalid::BadSignature | Invalid::Malformed), "{short:?}");
    assert_eq!(refused(&guard, &format!("{token}==")).await, Invalid::Malformed);

    // A 1 MB token is refused on its length, before it is decoded.
    let huge = format!("{}.{}.{}", b64(issuer.header().to_string().as_bytes()), "A".repeat(1 << 20), "A");
    assert_eq!(refused(&guard, &huge).await, Invalid::TooLong);
    // Structural junk.
    for junk in ["", "x", "a.b", "a.b.c.d", "....", "e30.e30.", "\u{0}.\u{0}.\u{0}"] {
        assert!(guard.validate(junk).await.is_err(), "{junk:?}");
    }
}
