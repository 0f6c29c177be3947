// Mints an RFC 9068 access token with panva/jose, so tessera-guard is tested
// against a JWT library other than the code that verifies it.
// Usage: node mint.mjs '<private JWK JSON>' '<claims JSON>' [typ]
import { SignJWT, importJWK } from 'jose';

const [jwkJson, claimsJson, typ = 'at+jwt'] = process.argv.slice(2);
const jwk = JSON.parse(jwkJson);
const key = await importJWK(jwk, jwk.alg);
const token = await new SignJWT(JSON.parse(claimsJson))
  .setProtectedHeader({ alg: jwk.alg, typ, kid: jwk.kid })
  .sign(key);
process.stdout.write(token);
