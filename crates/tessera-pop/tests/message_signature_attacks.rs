//! RFC 9421 §7 attacks on a MAC-token request: each alteration or replay
//! is refused with the error kind the API answers with.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use tessera_pop::content_digest;
use tessera_pop::message_signature::{
    self, Component, ErrorKind, MAX_COMPONENTS, MAX_FIELD_LEN, MAX_SIGNATURES, MacKey, Message, Policy, SignatureError,
    SignatureHeaders, SignatureParams,
};

const NOW: i64 = 1_700_000_000;
const KEY: &[u8; 32] = b"0123456789abcdef0123456789abcdef";
const URI: &str = "https://api.example/items?x=1";
const AUTH: &str = "MAC token-abc";
const BODY: &[u8] = br#"{"name": "widget"}"#;

fn params(created: i64) -> SignatureParams {
    SignatureParams {
        components: vec![
            Component::Method,
            Component::TargetUri,
            Component::field("authorization"),
            Component::field("content-digest"),
        ],
        created: Some(created),
        keyid: Some("kid-1".into()),
        nonce: Some("n-1".into()),
        alg: Some("hmac-sha256".into()),
        ..SignatureParams::default()
    }
}

fn policy() -> Policy {
    Policy { keyid: Some("kid-1".into()), ..Policy::default() }
}

/// A request as the client sends it, and the signature headers over it.
struct Signed {
    digest: String,
    headers: SignatureHeaders,
}

fn signed(p: &SignatureParams, key: &[u8]) -> Signed {
    let digest = content_digest::content_digest(BODY);
    let msg = Message::request("POST", URI).header("Authorization", AUTH).header("Content-Digest", &digest).body(BODY);
    let headers = message_signature::sign(&msg, "sig1", p, &MacKey::new(key)).unwrap();
    Signed { digest, headers }
}

/// The received request, with what the attacker changed.
fn received<'a>(s: &'a Signed, method: &'a str, uri: &'a str, auth: &'a str, body: &'a [u8]) -> Message<'a> {
    Message::request(method, uri)
        .header("Authorization", auth)
        .header("Content-Digest", &s.digest)
        .header("Signature-Input", &s.headers.signature_input)
        .header("Signature", &s.headers.signature)
        .body(body)
}

fn check(msg: &Message<'_>) -> Result<message_signature::Verified, SignatureError> {
    message_signature::verify(msg, &MacKey::new(KEY), &policy(), NOW)
}

fn refused(msg: &Message<'_>, kind: ErrorKind) -> SignatureError {
    let err = check(msg).unwrap_err();
    assert_eq!(err.kind(), kind, "{err:?}");
    err
}

#[test]
fn an_untouched_request_verifies_and_returns_its_parameters() {
    let s = signed(&params(NOW - 2), KEY);
    let v = check(&received(&s, "POST", URI, AUTH, BODY)).unwrap();
    assert_eq!(v.label, "sig1");
    assert_eq!(v.params.created, Some(NOW - 2));
    assert_eq!(v.params.nonce.as_deref(), Some("n-1"));
    assert_eq!(v.params.keyid.as_deref(), Some("kid-1"));
    assert_eq!(v.params.components, params(0).components);
    // Slightly in the future, within the skew, is fine too.
    let s = signed(&params(NOW + 3), KEY);
    check(&received(&s, "POST", URI, AUTH, BODY)).unwrap();
}

#[test]
fn altered_method_url_or_header_is_refused() {
    let s = signed(&params(NOW), KEY);
    let kind = ErrorKind::InvalidSignature;
    let err = refused(&received(&s, "PUT", URI, AUTH, BODY), kind);
    assert_eq!(err, SignatureError::Mismatch);
    let other = "https://api.example/items?x=2";
    assert_eq!(refused(&received(&s, "POST", other, AUTH, BODY), kind), SignatureError::Mismatch);
    let other = "https://evil.example/items?x=1";
    assert_eq!(refused(&received(&s, "POST", other, AUTH, BODY), kind), SignatureError::Mismatch);
    let thief = "MAC token-stolen";
    assert_eq!(refused(&received(&s, "POST", URI, thief, BODY), kind), SignatureError::Mismatch);
}

#[test]
fn altered_body_is_refused_with_or_without_a_new_digest() {
    let s = signed(&params(NOW), KEY);
    let err = refused(&received(&s, "POST", URI, AUTH, b"{}"), ErrorKind::InvalidSignature);
    assert_eq!(err, SignatureError::ContentDigest(content_digest::DigestError::Mismatch));
    // The attacker also replaces Content-Digest: the MAC no longer matches.
    let forged = Signed { digest: content_digest::content_digest(b"{}"), headers: s.headers.clone() };
    let err = refused(&received(&forged, "POST", URI, AUTH, b"{}"), ErrorKind::InvalidSignature);
    assert_eq!(err, SignatureError::Mismatch);
}

#[test]
fn a_covered_content_digest_without_sha_256_is_an_invalid_request() {
    let sha512 = "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:";
    let msg = Message::request("POST", URI).header("Authorization", AUTH).header("Content-Digest", sha512).body(BODY);
    let key = MacKey::new(KEY);
    let h = message_signature::sign(&msg, "sig1", &params(NOW), &key).unwrap();
    let msg = msg.header("Signature-Input", &h.signature_input).header("Signature", &h.signature);
    let err = refused(&msg, ErrorKind::InvalidRequest);
    assert_eq!(err, SignatureError::ContentDigest(content_digest::DigestError::NoSupportedAlgorithm));
}

#[test]
fn a_caller_can_pick_a_signature_by_label_and_verify_it() {
    let s = signed(&params(NOW), KEY);
    let msg = received(&s, "POST", URI, AUTH, BODY);
    let candidates = message_signature::signatures(&msg).unwrap();
    let c = candidates.iter().find(|c| c.label == "sig1").unwrap();
    let key = MacKey::new(KEY);
    let v = message_signature::verify_candidate(&msg, c, &key, &policy(), NOW).unwrap();
    assert_eq!(v.params.nonce.as_deref(), Some("n-1"));
    let other = MacKey::new(b"another key, the thief's key....");
    let err = message_signature::verify_candidate(&msg, c, &other, &policy(), NOW).unwrap_err();
    assert_eq!(err, SignatureError::Mismatch);
}

#[test]
fn missing_covered_components_are_refused() {
    // No content-digest covered although there is a body.
    let mut p = params(NOW);
    p.components.retain(|c| *c != Component::field("content-digest"));
    let s = signed(&p, KEY);
    let err = refused(&received(&s, "POST", URI, AUTH, BODY), ErrorKind::InvalidSignature);
    assert_eq!(err, SignatureError::NotCovered("\"content-digest\"".into()));
    // Without a body the same signature is acceptable.
    let msg = received(&s, "POST", URI, AUTH, b"");
    check(&msg).unwrap();
    // No authorization covered.
    let mut p = params(NOW);
    p.components.retain(|c| *c != Component::field("authorization"));
    let s = signed(&p, KEY);
    let err = refused(&received(&s, "POST", URI, AUTH, BODY), ErrorKind::InvalidSignature);
    assert_eq!(err, SignatureError::NotCovered("\"authorization\"".into()));
    // A covered header dropped on the way.
    let s = signed(&params(NOW), KEY);
    let msg = Message::request("POST", URI)
        .header("Content-Digest", &s.digest)
        .header("Signature-Input", &s.headers.signature_input)
        .header("Signature", &s.headers.signature)
        .body(BODY);
    let err = refused(&msg, ErrorKind::InvalidSignature);
    assert_eq!(err, SignatureError::NotInMessage("\"authorization\"".into()));
}

#[test]
fn stale_future_expired_and_nonceless_signatures_are_refused() {
    let kind = ErrorKind::InvalidSignature;
    let s = signed(&params(NOW - 61), KEY);
    assert_eq!(refused(&received(&s, "POST", URI, AUTH, BODY), kind), SignatureError::Stale);
    let s = signed(&params(NOW + 6), KEY);
    let err = refused(&received(&s, "POST", URI, AUTH, BODY), kind);
    assert_eq!(err, SignatureError::CreatedInFuture);
    let mut p = params(NOW);
    p.expires = Some(NOW - 1);
    let s = signed(&p, KEY);
    assert_eq!(refused(&received(&s, "POST", URI, AUTH, BODY), kind), SignatureError::Expired);
    let mut p = params(NOW);
    p.nonce = None;
    let s = signed(&p, KEY);
    assert_eq!(refused(&received(&s, "POST", URI, AUTH, BODY), kind), SignatureError::MissingNonce);
    let mut p = params(NOW);
    p.created = None;
    let s = signed(&p, KEY);
    assert_eq!(refused(&received(&s, "POST", URI, AUTH, BODY), kind), SignatureError::MissingCreated);
}

#[test]
fn wrong_key_keyid_or_alg_is_refused() {
    let kind = ErrorKind::InvalidSignature;
    let s = signed(&params(NOW), b"another key, the thief's key....");
    assert_eq!(refused(&received(&s, "POST", URI, AUTH, BODY), kind), SignatureError::Mismatch);
    let mut p = params(NOW);
    p.keyid = Some("kid-2".into());
    let s = signed(&p, KEY);
    assert_eq!(refused(&received(&s, "POST", URI, AUTH, BODY), kind), SignatureError::KeyIdMismatch);
    let mut p = params(NOW);
    p.alg = Some("rsa-pss-sha512".into());
    let s = signed(&p, KEY);
    let err = refused(&received(&s, "POST", URI, AUTH, BODY), kind);
    assert_eq!(err, SignatureError::UnsupportedAlgorithm("rsa-pss-sha512".into()));
    // No alg parameter at all is accepted (the key decides, §3.2).
    let mut p = params(NOW);
    p.alg = None;
    let s = signed(&p, KEY);
    check(&received(&s, "POST", URI, AUTH, BODY)).unwrap();
}

fn with_headers<'a>(s: &'a Signed, input: &'a str, sig: &'a str) -> Message<'a> {
    Message::request("POST", URI)
        .header("Authorization", AUTH)
        .header("Content-Digest", &s.digest)
        .header("Signature-Input", input)
        .header("Signature", sig)
        .body(BODY)
}

/// `label=...` with the label replaced.
fn relabel(v: &str, label: &str) -> String {
    format!("{label}{}", &v[v.find('=').unwrap()..])
}

#[test]
fn duplicate_and_unmatched_labels_are_refused() {
    let good = signed(&params(NOW), KEY);
    let bad = signed(&params(NOW), b"another key, the thief's key....");
    let kind = ErrorKind::InvalidRequest;
    // The same label twice: which one is meant is ambiguous.
    let input = format!("{}, {}", good.headers.signature_input, bad.headers.signature_input);
    let sig = format!("{}, {}", good.headers.signature, bad.headers.signature);
    let err = refused(&with_headers(&good, &input, &sig), kind);
    assert_eq!(err, SignatureError::DuplicateLabel("sig1".into()));
    // Also when split over two header lines.
    let msg = with_headers(&good, &good.headers.signature_input, &good.headers.signature)
        .header("Signature-Input", &bad.headers.signature_input)
        .header("Signature", &bad.headers.signature);
    assert_eq!(refused(&msg, kind), SignatureError::DuplicateLabel("sig1".into()));
    // A Signature without its Signature-Input, and the other way round.
    let sig = format!("{}, {}", good.headers.signature, relabel(&bad.headers.signature, "sig2"));
    let err = refused(&with_headers(&good, &good.headers.signature_input, &sig), kind);
    assert_eq!(err, SignatureError::UnmatchedLabel("sig2".into()));
    let input = relabel(&good.headers.signature_input, "other");
    let err = refused(&with_headers(&good, &input, &good.headers.signature), kind);
    assert_eq!(err, SignatureError::UnmatchedLabel("other".into()));
}

#[test]
fn with_several_signatures_the_one_for_the_keyid_that_verifies_is_taken() {
    let good = signed(&params(NOW), KEY);
    let mut p = params(NOW);
    p.keyid = Some("kid-9".into());
    let other = signed(&p, b"another key, the thief's key....");
    let input =
        format!("{}, {}", relabel(&other.headers.signature_input, "a"), relabel(&good.headers.signature_input, "b"));
    let sig = format!("{}, {}", relabel(&other.headers.signature, "a"), relabel(&good.headers.signature, "b"));
    let v = check(&with_headers(&good, &input, &sig)).unwrap();
    assert_eq!(v.label, "b");
    // Without a keyid to pick by, the one that verifies is taken.
    let any = Policy::default();
    let msg = with_headers(&good, &input, &sig);
    let v = message_signature::verify(&msg, &MacKey::new(KEY), &any, NOW).unwrap();
    assert_eq!(v.label, "b");
    // No signature for the expected keyid.
    let only_other = Policy { keyid: Some("kid-3".into()), ..Policy::default() };
    let err = message_signature::verify(&msg, &MacKey::new(KEY), &only_other, NOW).unwrap_err();
    assert_eq!(err, SignatureError::NoMatchingSignature);
    assert_eq!(err.kind(), ErrorKind::InvalidSignature);
}

#[test]
fn unsupported_components_and_parameters_are_refused_as_invalid_request() {
    let s = signed(&params(NOW), KEY);
    let sig = &s.headers.signature;
    for (input, expected) in [
        (
            r#"sig1=("@method" "authorization";sf);created=1700000000"#,
            SignatureError::UnsupportedParameter("\"authorization\";sf".into()),
        ),
        (
            r#"sig1=("@method" "signature";key="sig0");created=1700000000"#,
            SignatureError::UnsupportedParameter("\"signature\";key".into()),
        ),
        (
            r#"sig1=("@method" "authorization";bs);created=1700000000"#,
            SignatureError::UnsupportedParameter("\"authorization\";bs".into()),
        ),
        (r#"sig1=("@method";req);created=1700000000"#, SignatureError::UnsupportedParameter("\"@method\";req".into())),
        (
            r#"sig1=("@method" "@frobnicate");created=1700000000"#,
            SignatureError::UnsupportedComponent("@frobnicate".into()),
        ),
        (r#"sig1=("@method" "@method");created=1700000000"#, SignatureError::DuplicateComponent("\"@method\"".into())),
    ] {
        let err = refused(&with_headers(&s, input, sig), ErrorKind::InvalidRequest);
        assert_eq!(err, expected, "{input}");
    }
    for input in [
        r#"sig1=("Authorization");created=1700000000"#,
        r#"sig1=(@method);created=1700000000"#,
        r#"sig1=("@method");created="1700000000""#,
        r#"sig1=("@method");keyid=kid-1"#,
        r#"sig1="@method""#,
        "sig1=(\"@method\"",
    ] {
        let err = refused(&with_headers(&s, input, sig), ErrorKind::InvalidRequest);
        assert!(matches!(err, SignatureError::Malformed(_)), "{input}: {err:?}");
    }
    let input = &s.headers.signature_input;
    let err = refused(&with_headers(&s, input, "sig1=abc"), ErrorKind::InvalidRequest);
    assert!(matches!(err, SignatureError::Malformed(_)), "{err:?}");
}

#[test]
fn missing_headers_and_limits_are_refused_as_invalid_request() {
    let s = signed(&params(NOW), KEY);
    let kind = ErrorKind::InvalidRequest;
    let msg = Message::request("POST", URI).header("Authorization", AUTH);
    assert_eq!(refused(&msg, kind), SignatureError::MissingHeader("signature-input"));
    let msg = Message::request("POST", URI).header("Signature-Input", &s.headers.signature_input);
    assert_eq!(refused(&msg, kind), SignatureError::MissingHeader("signature"));

    let long = format!("{}, x=\"{}\"", s.headers.signature_input, "a".repeat(MAX_FIELD_LEN));
    let err = refused(&with_headers(&s, &long, &s.headers.signature), kind);
    assert_eq!(err, SignatureError::TooLarge("signature-input"));

    let many: Vec<String> =
        (0..=MAX_SIGNATURES).map(|i| relabel(&s.headers.signature_input, &format!("s{i}"))).collect();
    let sigs: Vec<String> = (0..=MAX_SIGNATURES).map(|i| relabel(&s.headers.signature, &format!("s{i}"))).collect();
    let err = refused(&with_headers(&s, &many.join(", "), &sigs.join(", ")), kind);
    assert_eq!(err, SignatureError::TooManySignatures);

    let fields: Vec<String> = (0..=MAX_COMPONENTS).map(|i| format!("\"h{i}\"")).collect();
    let input = format!("sig1=({});created={NOW}", fields.join(" "));
    let err = refused(&with_headers(&s, &input, &s.headers.signature), kind);
    assert_eq!(err, SignatureError::TooManyComponents);
}

#[test]
fn a_mac_key_does_not_show_in_debug_output() {
    let key = MacKey::new(b"super secret key material 123456");
    assert_eq!(format!("{key:?}"), "MacKey(..)");
    let msg = Message::request("GET", URI).header("Authorization", "MAC secret-token");
    assert!(!format!("{msg:?}").contains("secret-token"));
}
