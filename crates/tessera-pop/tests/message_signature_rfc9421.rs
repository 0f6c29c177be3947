//! RFC 9421 vectors: the HTTP field and derived component examples of §2.1
//! and §2.2, the signature base of §2.5, and Appendix B.2.1–B.2.6 (bases
//! for all, the B.2.5 hmac-sha256 signature made and verified).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64ct::{Base64, Encoding};
use tessera_pop::message_signature::{
    self, Component, ErrorKind, MacKey, Message, Policy, SignatureError, SignatureParams,
};

fn data(name: &str) -> String {
    let path = format!("{}/tests/data/rfc9421/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// An HTTP/1.1 message from a data file: start line, headers, body.
struct Http {
    start: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Http {
    fn load(name: &str) -> Self {
        let text = data(name);
        let (head, body) = text.split_once("\n\n").expect("a blank line");
        let mut lines = head.lines();
        let start = lines.next().expect("a start line").to_owned();
        let headers = lines
            .map(|l| {
                let (n, v) = l.split_once(':').expect("a header");
                (n.to_owned(), v.to_owned())
            })
            .collect();
        Http { start, headers, body: body.to_owned() }
    }

    fn with(mut self, name: &str, value: String) -> Self {
        self.headers.push((name.to_owned(), value));
        self
    }

    /// The target URI of the request (`https://` + Host + request target).
    fn target(&self) -> String {
        let path = self.start.split(' ').nth(1).expect("a request target");
        let host = self
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("host"))
            .map(|(_, v)| v.trim())
            .expect("a Host header");
        format!("https://{host}{path}")
    }

    fn message<'a>(&'a self, target: &'a str) -> Message<'a> {
        let mut m = if let Some(status) = self.start.strip_prefix("HTTP/1.1 ") {
            Message::response(status[..3].parse().expect("a status"))
        } else {
            Message::request(self.start.split(' ').next().expect("a method"), target)
        };
        for (n, v) in &self.headers {
            m = m.header(n, v);
        }
        m.body(self.body.as_bytes())
    }
}

fn shared_secret() -> MacKey {
    MacKey::new(&Base64::decode_vec(data("shared-secret.b64").trim()).expect("base64"))
}

/// The base a verifier rebuilds for vector `name` on `file`.
fn rebuilt_base(file: &str, name: &str) -> String {
    let http = Http::load(file)
        .with("Signature-Input", data(&format!("{name}.input")))
        .with("Signature", data(&format!("{name}.signature")));
    let target = http.target_or_empty();
    let msg = http.message(&target);
    let candidates = message_signature::signatures(&msg).expect("parsed");
    assert_eq!(candidates.len(), 1);
    message_signature::candidate_base(&msg, &candidates[0]).expect("a base")
}

impl Http {
    fn target_or_empty(&self) -> String {
        if self.start.starts_with("HTTP/") { String::new() } else { self.target() }
    }
}

#[test]
fn signature_bases_of_section_2_5_and_appendix_b2_are_rebuilt_exactly() {
    for name in ["s2_5", "b21", "b22", "b23", "b25", "b26"] {
        assert_eq!(rebuilt_base("test-request.http", name), data(&format!("{name}.base")), "{name}");
    }
    assert_eq!(rebuilt_base("test-response.http", "b24"), data("b24.base"));
}

#[test]
fn b25_hmac_sha256_is_signed_exactly_as_the_rfc() {
    let http = Http::load("test-request.http");
    let target = http.target();
    let msg = http.message(&target);
    let params = SignatureParams {
        components: vec![Component::field("date"), Component::Authority, Component::field("content-type")],
        created: Some(1_618_884_473),
        keyid: Some("test-shared-secret".into()),
        ..SignatureParams::default()
    };
    assert_eq!(message_signature::signature_base(&msg, &params).unwrap(), data("b25.base"));
    let headers = message_signature::sign(&msg, "sig-b25", &params, &shared_secret()).unwrap();
    assert_eq!(headers.signature_input, data("b25.input"));
    assert_eq!(headers.signature, data("b25.signature"));
}

fn rfc_policy() -> Policy {
    Policy {
        required: vec![],
        content_digest_with_body: false,
        max_age: 60,
        max_skew: 5,
        require_nonce: false,
        keyid: Some("test-shared-secret".into()),
    }
}

#[test]
fn b25_signature_from_the_rfc_verifies() {
    let http = Http::load("test-request.http")
        .with("Signature-Input", data("b25.input"))
        .with("Signature", data("b25.signature"));
    let target = http.target();
    let msg = http.message(&target);
    let v = message_signature::verify(&msg, &shared_secret(), &rfc_policy(), 1_618_884_480).expect("verifies");
    assert_eq!(v.label, "sig-b25");
    assert_eq!(v.params.created, Some(1_618_884_473));
    assert_eq!(v.params.keyid.as_deref(), Some("test-shared-secret"));
    assert_eq!(
        v.params.components,
        vec![Component::field("date"), Component::Authority, Component::field("content-type")]
    );
}

#[test]
fn b25_signature_fails_under_a_changed_date_or_another_key() {
    let mut http = Http::load("test-request.http")
        .with("Signature-Input", data("b25.input"))
        .with("Signature", data("b25.signature"));
    for (n, v) in &mut http.headers {
        if n == "Date" {
            *v = " Tue, 20 Apr 2021 02:07:56 GMT".into();
        }
    }
    let target = http.target();
    let msg = http.message(&target);
    let err = message_signature::verify(&msg, &shared_secret(), &rfc_policy(), 1_618_884_480).unwrap_err();
    assert_eq!(err, SignatureError::Mismatch);
    assert_eq!(err.kind(), ErrorKind::InvalidSignature);

    let http = Http::load("test-request.http")
        .with("Signature-Input", data("b25.input"))
        .with("Signature", data("b25.signature"));
    let msg = http.message(&target);
    let other = MacKey::new(&[7u8; 64]);
    let err = message_signature::verify(&msg, &other, &rfc_policy(), 1_618_884_480).unwrap_err();
    assert_eq!(err, SignatureError::Mismatch);
}

/// One component's line of a signature base.
fn line(msg: &Message<'_>, c: Component) -> String {
    let params = SignatureParams { components: vec![c], ..SignatureParams::default() };
    let base = message_signature::signature_base(msg, &params).unwrap();
    base.lines().next().unwrap().to_owned()
}

#[test]
fn http_fields_are_trimmed_and_combined_as_in_section_2_1() {
    let msg = Message::request("GET", "https://www.example.com/xyz")
        .header("Host", "www.example.com")
        .header("Date", "Tue, 20 Apr 2021 02:07:56 GMT")
        .header("X-OWS-Header", "   Leading and trailing whitespace.   ")
        .header("Cache-Control", "max-age=60")
        .header("X-Empty-Header", "")
        .header("Cache-Control", "   must-revalidate")
        .header("Example-Dict", " a=1,    b=2;x=1;y=2,   c=(a   b   c)  ")
        .header("Example-Dict", "d");
    let cases = [
        ("host", "\"host\": www.example.com"),
        ("date", "\"date\": Tue, 20 Apr 2021 02:07:56 GMT"),
        ("x-ows-header", "\"x-ows-header\": Leading and trailing whitespace."),
        ("cache-control", "\"cache-control\": max-age=60, must-revalidate"),
        ("x-empty-header", "\"x-empty-header\": "),
        ("example-dict", "\"example-dict\": a=1,    b=2;x=1;y=2,   c=(a   b   c), d"),
    ];
    for (name, expected) in cases {
        assert_eq!(line(&msg, Component::field(name)), expected);
    }
}

#[test]
fn derived_components_match_section_2_2() {
    let msg = Message::request("POST", "https://www.example.com/path?param=value");
    let cases = [
        (Component::Method, "\"@method\": POST"),
        (Component::TargetUri, "\"@target-uri\": https://www.example.com/path?param=value"),
        (Component::Authority, "\"@authority\": www.example.com"),
        (Component::Scheme, "\"@scheme\": https"),
        (Component::RequestTarget, "\"@request-target\": /path?param=value"),
        (Component::Path, "\"@path\": /path"),
        (Component::Query, "\"@query\": ?param=value"),
    ];
    for (c, expected) in cases {
        assert_eq!(line(&msg, c), expected);
    }
    // §2.2.3: default port dropped, host lowercased.
    let msg = Message::request("GET", "HTTPS://WWW.Example.com:443/");
    assert_eq!(line(&msg, Component::Authority), "\"@authority\": www.example.com");
    assert_eq!(line(&msg, Component::Scheme), "\"@scheme\": https");
    let msg = Message::request("GET", "http://www.example.com:8080");
    assert_eq!(line(&msg, Component::Authority), "\"@authority\": www.example.com:8080");
    assert_eq!(line(&msg, Component::Path), "\"@path\": /");
    // §2.2.7: an absent query is "?".
    assert_eq!(line(&msg, Component::Query), "\"@query\": ?");
    let msg = Message::request("POST", "https://www.example.com/path?param=value&foo=bar&baz=bat%2Dman");
    assert_eq!(line(&msg, Component::Query), "\"@query\": ?param=value&foo=bar&baz=bat%2Dman");
}

#[test]
fn query_params_are_reencoded_as_in_section_2_2_8() {
    let msg = Message::request("GET", "https://example.com/path?param=value&foo=bar&baz=batman&qux=");
    for (name, expected) in [("param", "value"), ("foo", "bar"), ("baz", "batman"), ("qux", "")] {
        assert_eq!(
            line(&msg, Component::QueryParam(name.into())),
            format!("\"@query-param\";name=\"{name}\": {expected}")
        );
    }
    let msg = Message::request(
        "GET",
        "https://example.com/parameters?var=this%20is%20a%20big%0Avalue&bar=with+plus+whitespace&fa%C3%A7ade%22%3A%20=something",
    );
    assert_eq!(
        line(&msg, Component::QueryParam("var".into())),
        "\"@query-param\";name=\"var\": this%20is%20a%20big%0Avalue"
    );
    assert_eq!(
        line(&msg, Component::QueryParam("bar".into())),
        "\"@query-param\";name=\"bar\": with%20plus%20whitespace"
    );
    assert_eq!(
        line(&msg, Component::QueryParam("fa%C3%A7ade%22%3A%20".into())),
        "\"@query-param\";name=\"fa%C3%A7ade%22%3A%20\": something"
    );
    // A repeated name cannot be covered alone; an absent one is missing.
    let msg = Message::request("GET", "https://example.com/?a=1&a=2");
    let params = SignatureParams { components: vec![Component::QueryParam("a".into())], ..SignatureParams::default() };
    let err = message_signature::signature_base(&msg, &params).unwrap_err();
    assert_eq!(err, SignatureError::AmbiguousQueryParam("a".into()));
    let params = SignatureParams { components: vec![Component::QueryParam("b".into())], ..SignatureParams::default() };
    let err = message_signature::signature_base(&msg, &params).unwrap_err();
    assert!(matches!(err, SignatureError::NotInMessage(_)), "{err:?}");
}
