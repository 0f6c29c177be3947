//! Proofs across implementations: ours checked by jsonwebtoken, and proofs
//! made by PyPI `joserfc` checked by ours (fixture written by
//! `tests/data/dpop_joserfc.py`: `pip install joserfc==1.6.5 &&
//! python3 tests/data/dpop_joserfc.py > tests/data/dpop_joserfc.json`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod dpop_support;

use dpop_support::*;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::Value;
use tessera_pop::dpop::{DpopAlg, DpopError, Expectation, KeyError, ProofKey, ath, make_proof, verify_proof};
use tessera_pop::jwk_thumbprint;

#[test]
fn our_proofs_verify_with_jsonwebtoken_and_with_us() {
    for alg in [DpopAlg::EdDSA, DpopAlg::ES256] {
        let key = ProofKey::generate(alg).unwrap();
        let url = format!("{URL}?state=x#frag");
        let proof = make_proof(&key, "POST", &url, Some("tok"), Some("n0nce"), NOW, "jti-1").unwrap();

        // Independently: the header names the key, and jsonwebtoken verifies
        // the signature with it.
        let header = jsonwebtoken::decode_header(&proof).unwrap();
        assert_eq!(header.typ.as_deref(), Some("dpop+jwt"));
        let jwk = header.jwk.unwrap();
        let mut v = Validation::new(header.alg);
        v.required_spec_claims.clear();
        v.validate_exp = false;
        let claims = jsonwebtoken::decode::<Value>(&proof, &DecodingKey::from_jwk(&jwk).unwrap(), &v).unwrap().claims;
        assert_eq!(claims["htu"], URL, "query and fragment are cut off");
        assert_eq!((claims["htm"].as_str(), claims["iat"].as_i64()), (Some("POST"), Some(NOW)));
        assert_eq!((claims["ath"].as_str(), claims["nonce"].as_str()), (Some(ath("tok").as_str()), Some("n0nce")));
        assert_eq!(jwk_thumbprint::thumbprint(&serde_json::to_value(&jwk).unwrap()).unwrap(), key.jkt());
        assert_eq!(key.public_jwk().get("d"), None);

        let ctx = Ctx::new();
        let expect = Expectation { access_token: Some("tok"), bound_jkt: Some(key.jkt()), ..ctx.expect() };
        let got = block_on(verify_proof(&[&proof], &expect)).unwrap();
        assert_eq!((got.jkt.as_str(), got.alg, got.jti.as_str()), (key.jkt(), alg, "jti-1"));
    }
}

#[test]
fn proof_keys_reload_and_refuse_other_algorithms() {
    let der = tessera_pop::dpop::generate_pkcs8(DpopAlg::ES256).unwrap();
    let a = ProofKey::from_pkcs8(DpopAlg::ES256, &der).unwrap();
    let b = ProofKey::from_pkcs8(DpopAlg::ES256, &der).unwrap();
    assert_eq!(a.jkt(), b.jkt());
    assert_ne!(a.jkt(), ProofKey::generate(DpopAlg::ES256).unwrap().jkt());
    assert_eq!(ProofKey::from_pkcs8(DpopAlg::EdDSA, &der).err(), Some(KeyError::Parse("Ed25519")));
    assert_eq!(ProofKey::generate(DpopAlg::RS256).err(), Some(KeyError::Algorithm("RS256")));
    let shown = format!("{a:?}");
    assert!(shown.contains(a.jkt()) && !shown.contains("pair"), "{shown}");
}

#[test]
fn proofs_made_by_joserfc_verify() {
    let fixtures: Vec<Value> = serde_json::from_str(include_str!("data/dpop_joserfc.json")).unwrap();
    assert_eq!(fixtures.len(), 3);
    for f in &fixtures {
        let (proof, token) = (f["proof"].as_str().unwrap(), f["access_token"].as_str().unwrap());
        let ctx = Ctx::new();
        let expect = Expectation { access_token: Some(token), now: f["iat"].as_i64().unwrap(), ..ctx.expect() };
        let got = block_on(verify_proof(&[proof], &expect)).unwrap();
        assert_eq!(got.jkt, f["jkt"].as_str().unwrap(), "joserfc's own thumbprint");
        assert_eq!(got.alg.as_str(), f["alg"].as_str().unwrap());
        // And the same proof presented with another token, or again, fails.
        let other = Expectation { access_token: Some("other"), ..expect };
        assert_eq!(block_on(verify_proof(&[proof], &other)), Err(DpopError::WrongAth));
        assert_eq!(block_on(verify_proof(&[proof], &expect)), Err(DpopError::Replayed));
    }
}
