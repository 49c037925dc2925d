// Signs a One-ID certificate-login challenge: what a citizen's signing software (or a
// browser extension) does with the nonce shown on the login page. See docs/certificates.md.
//
//   npx tsx examples/sign-challenge.ts --key citizen-key.pem --chain citizen-chain.pem \
//     --nonce=<nonce from the login page> --audience https://id.example.go.kr
//
// Prints the compact JWS to paste into the login page's "Signature" field.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { SignJWT, importPKCS8 } from 'jose';

/** Certificates of a PEM bundle as base64 DER (the x5c form), in file order: leaf first. */
export const pemToX5c = (pem: string): string[] =>
  [...pem.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)].map((m) =>
    m[1]!.replace(/\s+/g, ''),
  );

/**
 * The JWS One-ID accepts: protected header { alg, typ: 'one-id-cert-challenge+jwt', x5c },
 * payload { nonce, aud: <issuer>, iat, exp } with exp - iat <= 300 s, signed with the
 * private key of the certificate in x5c[0].
 */
export const signChallenge = async (options: {
  keyPem: string;
  chainPem: string;
  nonce: string;
  audience: string;
  alg?: 'ES256' | 'PS256' | 'RS256';
}): Promise<string> => {
  const alg = options.alg ?? 'ES256';
  const x5c = pemToX5c(options.chainPem);
  if (x5c.length === 0) throw new Error('the chain file holds no certificate');
  const key = await importPKCS8(options.keyPem, alg);
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ nonce: options.nonce })
    .setProtectedHeader({ alg, typ: 'one-id-cert-challenge+jwt', x5c })
    .setAudience(options.audience)
    .setIssuedAt(now)
    .setExpirationTime(now + 120)
    .sign(key);
};

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: {
      key: { type: 'string' },
      chain: { type: 'string' },
      nonce: { type: 'string' },
      audience: { type: 'string' },
      alg: { type: 'string', default: 'ES256' },
    },
  });
  if (!values.key || !values.chain || !values.nonce || !values.audience) {
    console.error(
      'usage: sign-challenge --key key.pem --chain chain.pem --nonce=N --audience ISSUER [--alg ES256|PS256|RS256]',
    );
    process.exit(2);
  }
  console.log(
    await signChallenge({
      keyPem: readFileSync(values.key, 'utf8'),
      chainPem: readFileSync(values.chain, 'utf8'),
      nonce: values.nonce,
      audience: values.audience,
      alg: values.alg as 'ES256' | 'PS256' | 'RS256',
    }),
  );
}
