#!/usr/bin/env python3
"""Writes the hand-made seed inputs of every fuzz target into fuzz/corpus/.

Realistic requests and known attacks; the fuzzers grow the corpus from
these, and `cargo fuzz cmin` keeps it small. Tokens are signed with the
harness's fixed Ed25519 key (seed 0x01..0x20), so they verify there.
"""
import base64, hashlib, json, os, sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
NOW = 1_800_000_000
ISS, AUD = "https://as.example", "https://api.example"


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
X = b64(KEY.public_key().public_bytes_raw())
KID = b64(hashlib.sha256(('{"crv":"Ed25519","kty":"OKP","x":"%s"}' % X).encode()).digest())


def jws(header, claims):
    h = header if isinstance(header, bytes) else json.dumps(header, separators=(",", ":")).encode()
    c = claims if isinstance(claims, bytes) else json.dumps(claims, separators=(",", ":")).encode()
    si = b64(h) + "." + b64(c)
    return si + "." + b64(KEY.sign(si.encode()))


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def write_all(target, cases):
    for n, c in cases.items():
        write(target, n, c)


def basic(i, s):
    return "Basic " + base64.b64encode(f"{i}:{s}".encode()).decode()


FORMS = {
    "client-credentials": "grant_type=client_credentials&scope=inventory%3Aread+inventory%3Awrite",
    "code": "grant_type=authorization_code&code=tsr_ac_abc&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk&client_id=web",
    "refresh": "grant_type=refresh_token&refresh_token=tsr_rt_xyz&scope=openid",
    "device": "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=tsr_dc_1&client_id=tv",
    "resources": "grant_type=client_credentials&resource=https%3A%2F%2Fa&resource=https%3A%2F%2Fb&resource=urn%3Ax",
    "duplicate": "grant_type=a&grant_type=b",
    "empty-values": "scope=&grant_type=client_credentials&=x&&",
    "post-credentials": "client_id=svc&client_secret=s%20e+c%2Bret&grant_type=client_credentials",
    "bad-percent": "a=%zz&b=%&c=%f0%28%8c%28",
    "flood": "&".join(f"p{i}=v" for i in range(70)),
    "weird-names": "%00=1&%0d%0a=2&%E2%80%AE=3&" + "n" * 300 + "=4",
    "unsupported": "grant_type=password&username=u&password=p",
    "unknown": "grant_type=implicit",
    "bad-resource": "grant_type=client_credentials&resource=%2Frelative&resource=https%3A%2F%2Fa%23frag",
    "bad-scope": "grant_type=client_credentials&scope=a%22b",
    "no-verifier": "grant_type=authorization_code&code=c&redirect_uri=x",
}


def forms():
    write_all("form", FORMS)
    write("form", "not-utf8", b"a=\xff\xfe")
    write("form", "raw-utf8", "scope=caf\u00e9&x=\u202e")


def basic_auth():
    cases = {
        "ok": basic("svc", "tsr_cs_secret") + "\n",
        "urlencoded": basic("my%20client", "a%2Bb%3Ac") + "\n",
        "plus": basic("a+b", "c+d") + "\ngrant_type=client_credentials",
        "colons": basic("id", "se:cr:et") + "\n",
        "lowercase-scheme": "basic " + basic("id", "s")[6:] + "\n",
        "extra-spaces": "Basic    " + basic("id", "s")[6:] + "   \n",
        "no-colon": "Basic " + base64.b64encode(b"idsecret").decode() + "\n",
        "empty-id": basic("", "s") + "\n",
        "empty-secret": basic("id", "") + "\n",
        "raw-amp": basic("a&b", "c=d") + "\n",
        "bad-percent": basic("%zz", "%") + "\n",
        "not-utf8": "Basic " + base64.b64encode(b"\xff:\xfe").decode() + "\n",
        "bad-base64": "Basic !!!\n",
        "unpadded": "Basic " + base64.b64encode(b"ab:cd").decode().rstrip("=") + "\n",
        "bearer": "Bearer abc\n",
        "scheme-only": "Basic\n",
        "both-methods": basic("a", "b") + "\nclient_id=a&client_secret=b",
        "id-mismatch": basic("a", "b") + "\nclient_id=other",
        "id-match": basic("a", "b") + "\nclient_id=a",
        "percent-newline": basic("a%0d%0a", "b%00") + "\n",
    }
    write_all("basic_auth", cases)


def token_request():
    ct = "application/x-www-form-urlencoded"
    cases = {
        "cc-basic": f"{ct}\n{basic('svc', 's')}\n{FORMS['client-credentials']}",
        "cc-post": f"{ct}\n\n{FORMS['post-credentials']}",
        "code": f"{ct}; charset=utf-8\n\n{FORMS['code']}",
        "refresh": f"{ct.upper()}\n{basic('a', 'b')}\n{FORMS['refresh']}",
        "device": f"{ct}\n\n{FORMS['device']}",
        "json": f"application/json\n\n{{\"grant_type\":\"client_credentials\"}}",
        "no-type": f"\n\n{FORMS['client-credentials']}",
        "duplicate": f"{ct}\n\n{FORMS['duplicate']}",
        "flood": f"{ct}\n\n{FORMS['flood']}",
        "bad-auth": f"{ct}\nBasic !!!\n{FORMS['client-credentials']}",
        "both-auth": f"{ct}\n{basic('a', 'b')}\nclient_id=a&client_secret=b&grant_type=client_credentials",
        "unsupported": f"{ct}\n\n{FORMS['unsupported']}",
        "no-grant": f"{ct}\n\nscope=a",
        "resources": f"{ct}\n\n{FORMS['resources']}",
        "bad-resource": f"{ct}\n\n{FORMS['bad-resource']}",
        "bad-scope": f"{ct}\n\n{FORMS['bad-scope']}",
        "no-verifier": f"{ct}\n\n{FORMS['no-verifier']}",
    }
    write_all("token_request", cases)
    write("token_request", "not-utf8", (ct + "\n\ngrant_type=\xff").encode("latin-1"))
    write("token_request", "ctl-header", b"application/x-www-form-urlencoded\x00\n\x7f\ngrant_type=x")


def jwt():
    good = {"iss": ISS, "sub": "user-1", "aud": AUD, "exp": NOW + 300, "iat": NOW - 10, "jti": "j1",
            "client_id": "web", "scope": "inventory:read"}
    hdr = {"alg": "EdDSA", "typ": "at+jwt", "kid": KID}
    raw = {
        "valid": jws(hdr, good),
        "valid-aud-list": jws(hdr, dict(good, aud=["https://other", AUD])),
        "expired": jws(hdr, dict(good, exp=NOW - 1)),
        "future-iat": jws(hdr, dict(good, iat=NOW + 3600)),
        "wrong-iss": jws(hdr, dict(good, iss="https://evil")),
        "wrong-aud": jws(hdr, dict(good, aud="https://api.example/")),
        "cnf": jws(hdr, dict(good, cnf={"jkt": "x"})),
        "nbf-future": jws(hdr, dict(good, nbf=NOW + 100)),
        "dup-claim": jws(hdr, b'{"iss":"https://as.example","iss":"https://evil","sub":"s","aud":"https://api.example","exp":1800000300,"iat":1,"jti":"j","client_id":"c"}'),
        "id-token": jws({"alg": "EdDSA", "typ": "JWT", "kid": KID}, {"iss": ISS, "sub": "u", "aud": "web", "exp": NOW - 5, "iat": NOW - 100, "auth_time": NOW - 100}),
        "typ-prefix": jws(dict(hdr, typ="application/at+jwt"), good),
        "typ-upper-prefix": jws(dict(hdr, typ="APPLICATION/AT+JWT"), good),
        "alg-none": b64(json.dumps({"alg": "none", "typ": "at+jwt", "kid": KID}).encode()) + "." + b64(json.dumps(good).encode()) + ".",
        "tampered": jws(hdr, good)[:-4] + "AAAA",
        "four-parts": jws(hdr, good) + ".x",
        "garbage": "garbage",
        "dots": "..",
        "opaque": "tsr_at_abcdef",
        "big-exp": jws(hdr, dict(good, exp=2**63 - 1, iat=-(2**63))),
        "float-exp": jws(hdr, b'{"iss":"https://as.example","sub":"s","aud":"https://api.example","exp":1.8e9,"iat":1,"jti":"j","client_id":"c"}'),
    }
    for n, t in raw.items():
        write("jwt", "raw-" + n, b"\x00" + t.encode())
    signed = {
        "valid": (hdr | {"kid": "$KID"}, good),
        "crit": (hdr | {"kid": "$KID", "crit": ["exp"]}, good),
        "jwk": (hdr | {"kid": "$KID", "jwk": {"kty": "OKP"}}, good),
        "hs256": (hdr | {"kid": "$KID", "alg": "HS256"}, good),
        "no-kid": ({"alg": "EdDSA", "typ": "at+jwt"}, good),
        "scope-null": (hdr | {"kid": "$KID"}, dict(good, scope=None)),
        "no-aud": (hdr | {"kid": "$KID"}, {k: v for k, v in good.items() if k != "aud"}),
        "extra-claims": (hdr | {"kid": "$KID"}, dict(good, grant_id="g", auth_time=NOW - 50, extra={"a": [1, 2]})),
    }
    for n, (h, c) in signed.items():
        write("jwt", "signed-" + n, b"\x01" + json.dumps(h, separators=(",", ":")).encode() + b"\n" + json.dumps(c, separators=(",", ":")).encode())
    write("jwt", "signed-not-json", b"\x01{\"alg\":\"EdDSA\"\nnot json")


def redirect_uri():
    reg = "https://app.example.com/cb\nhttp://127.0.0.1/native\nhttp://[::1]:1234/cb\ncom.example.app:/oauth2redirect\nhttp://localhost:3000/cb"
    cases = {
        "exact": "https://app.example.com/cb",
        "loopback-port": "http://127.0.0.1:49152/native",
        "loopback6-port": "http://[::1]:5555/cb",
        "localhost-port": "http://localhost:4000/cb",
        "custom": "com.example.app:/oauth2redirect",
        "trailing-slash": "https://app.example.com/cb/",
        "case": "https://APP.example.com/cb",
        "userinfo": "https://app.example.com@evil.com/cb",
        "userinfo-loopback": "http://user@127.0.0.1:8/native",
        "password-loopback": "http://:pw@127.0.0.1:8/native",
        "fragment": "http://127.0.0.1:9/native#x",
        "not-normal": "http://127.0.0.1:9/native/../native",
        "octal": "http://0177.0.0.1:9/native",
        "decimal": "http://2130706433:9/native",
        "short": "http://127.1:9/native",
        "port-80": "http://127.0.0.1:80/native",
        "encoded": "https://app.example.com/c%62",
        "query": "http://127.0.0.1:9/native?x=1",
        "mapped-v6": "http://[::ffff:127.0.0.1]:9/native",
        "tab": "http://127.0.0.1:9/na\ttive",
        "long": "https://app.example.com/" + "a" * 2100,
    }
    for n, r in cases.items():
        write("redirect_uri", n, r + "\n" + reg)
    for n, r in {
        "reg-javascript": "javascript:alert(1)",
        "reg-wildcard": "https://*.example.com/cb",
        "reg-data": "data:text/html,hi",
        "reg-http": "http://app.example.com/cb",
        "reg-user": "https://u:p@app.example.com/cb",
        "reg-nodot": "myapp:/cb",
    }.items():
        write("redirect_uri", n, r + "\n" + r)


def scope():
    cases = {
        "oidc": "openid profile email offline_access",
        "dups": "a  b a b  a",
        "colon": "inventory:read inventory:write urn:x:y",
        "max-token": "x" * 128,
        "long-token": "x" * 129,
        "quote": 'a"b',
        "backslash": "a\\b",
        "unicode": "caf\u00e9",
        "tab": "a\tb",
        "spaces": "   ",
        "empty": "",
        "all-chars": "".join(chr(c) for c in range(0x21, 0x7F) if c not in (0x22, 0x5C)),
        "many": " ".join(f"s{i}" for i in range(300)),
        "many-dups": " ".join("s" for _ in range(500)),
    }
    write_all("scope", cases)


def feed_query():
    cases = {
        "ok": "after=42&wait=30&limit=5",
        "empty": "",
        "negative": "after=-1",
        "nan": "after=x",
        "wait-high": "wait=31",
        "limit-high": "limit=10001",
        "limit-zero": "limit=0",
        "repeat": "after=1&after=2",
        "secret": "client_secret=s",
        "client-id": "client_id=a",
        "wait-empty": "wait=",
        "i64-max": "after=9223372036854775807",
        "i64-over": "after=9223372036854775808",
        "u64-over": "after=18446744073709551616",
        "plus": "after=+1",
        "encoded-plus": "after=%2B1",
        "leading-zero": "after=0001&limit=0010",
        "crlf-name": "%0d%0aforged%3A+1=1&%0d%0aforged%3A+1=2",
        "long-name": "k" * 3000 + "=1&" + "k" * 3000 + "=2",
        "unknown": "foo=bar&after=3",
    }
    write_all("feed_query", cases)


def cookie_csrf():
    cases = {
        "session": "a=1; tessera_session=tsr_ss_x\nb=2",
        "csrf": "tessera_csrf=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\ntoken",
        "host-prefix": "__Host-tessera_csrf=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA; __Host-tessera_session=s\nx",
        "short-binding": "tessera_csrf=short\n",
        "empty-value": "tessera_csrf=; tessera_session=\n",
        "twice": "tessera_csrf=one; tessera_csrf=two\ntessera_csrf=three",
        "no-eq": "tessera_csrf; tessera_session\n",
        "spaces": "  tessera_csrf =  v  ;tessera_session=a=b=c\n",
        "quoted": "tessera_csrf=\"AAAAAAAAAAAAAAAAAAAAAAAA\"\n",
        "ctl": "tessera_csrf=a\x01b\n\x7f",
        "obs-text": "tessera_csrf=caf\u00e9AAAAAAAAAAAAAAAA\n",
    }
    write_all("cookie_csrf", cases)


if __name__ == "__main__":
    for f in (forms, basic_auth, token_request, jwt, redirect_uri, scope, feed_query, cookie_csrf):
        f()
    print("kid", KID, file=sys.stderr)
