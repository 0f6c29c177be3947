"""Writes dpop_joserfc.json: DPoP proofs made by an independent JOSE library.

    pip install joserfc==1.6.5 && python3 dpop_joserfc.py > dpop_joserfc.json

Each proof is for POST https://as.example/oauth2/token at iat 1767225600,
presenting the access token "joserfc-token" (so it carries ath).
"""
import base64
import hashlib
import json
import warnings

from joserfc import jwk, jwt

warnings.simplefilter("ignore")

IAT = 1767225600
TOKEN = "joserfc-token"
ath = base64.urlsafe_b64encode(hashlib.sha256(TOKEN.encode()).digest()).rstrip(b"=").decode()

out = []
for alg, key in [
    ("EdDSA", jwk.OKPKey.generate_key("Ed25519")),
    ("ES256", jwk.ECKey.generate_key("P-256")),
    ("PS256", jwk.RSAKey.generate_key(2048)),
]:
    header = {"typ": "dpop+jwt", "alg": alg, "jwk": key.as_dict(private=False)}
    claims = {
        "jti": f"joserfc-{alg}",
        "htm": "POST",
        "htu": "https://as.example/oauth2/token",
        "iat": IAT,
        "ath": ath,
    }
    proof = jwt.encode(header, claims, key, algorithms=[alg])
    out.append({"alg": alg, "proof": proof, "jkt": key.thumbprint(), "access_token": TOKEN, "iat": IAT})
print(json.dumps(out, indent=2))
