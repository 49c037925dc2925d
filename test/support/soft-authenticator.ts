// A software WebAuthn authenticator (ES256, "none" attestation): real key pairs, real CBOR,
// real signatures, for protocol tests and the benchmark where a browser would be too slow.
// Chromium's virtual authenticator covers the browser side in the e2e tests.
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

const head = (major: number, n: number): Buffer => {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 256) return Buffer.from([(major << 5) | 24, n]);
  if (n < 65536) return Buffer.from([(major << 5) | 25, n >> 8, n & 255]);
  const b = Buffer.alloc(5);
  b[0] = (major << 5) | 26;
  b.writeUInt32BE(n, 1);
  return b;
};

type Cbor = number | string | Buffer | Cbor[] | Map<number | string, Cbor>;
const cbor = (value: Cbor): Buffer => {
  if (typeof value === 'number') return value >= 0 ? head(0, value) : head(1, -1 - value);
  if (typeof value === 'string')
    return Buffer.concat([head(3, Buffer.byteLength(value)), Buffer.from(value)]);
  if (Buffer.isBuffer(value)) return Buffer.concat([head(2, value.length), value]);
  if (Array.isArray(value)) return Buffer.concat([head(4, value.length), ...value.map(cbor)]);
  return Buffer.concat([
    head(5, value.size),
    ...[...value].flatMap(([k, v]) => [cbor(k), cbor(v)]),
  ]);
};

const b64u = (b: Buffer) => b.toString('base64url');
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest();

type Credential = { id: Buffer; key: KeyObject; userHandle: string; counter: number; rpId: string };

export const createSoftAuthenticator = (options: { origin: string; synced?: boolean }) => {
  const credentials: Credential[] = [];
  const flags = (attested: boolean) =>
    0x01 | 0x04 | (options.synced ? 0x18 : 0) | (attested ? 0x40 : 0);

  return {
    credentials,
    /** navigator.credentials.create() for the given options JSON. */
    register(creation: { challenge: string; rp: { id?: string }; user: { id: string } }) {
      const rpId = creation.rp.id ?? new URL(options.origin).hostname;
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const jwk = publicKey.export({ format: 'jwk' });
      const id = randomBytes(32);
      const cose = cbor(
        new Map<number, Cbor>([
          [1, 2],
          [3, -7],
          [-1, 1],
          [-2, Buffer.from(jwk.x!, 'base64url')],
          [-3, Buffer.from(jwk.y!, 'base64url')],
        ]),
      );
      const lenBuf = Buffer.alloc(2);
      lenBuf.writeUInt16BE(id.length);
      const authData = Buffer.concat([
        sha(rpId),
        Buffer.from([flags(true)]),
        Buffer.alloc(4),
        Buffer.alloc(16),
        lenBuf,
        id,
        cose,
      ]);
      const clientData = Buffer.from(
        JSON.stringify({
          type: 'webauthn.create',
          challenge: creation.challenge,
          origin: options.origin,
          crossOrigin: false,
        }),
      );
      credentials.push({ id, key: privateKey, userHandle: creation.user.id, counter: 0, rpId });
      return {
        id: b64u(id),
        rawId: b64u(id),
        type: 'public-key',
        response: {
          clientDataJSON: b64u(clientData),
          attestationObject: b64u(
            cbor(
              new Map<string, Cbor>([
                ['fmt', 'none'],
                ['attStmt', new Map()],
                ['authData', authData],
              ]),
            ),
          ),
          transports: ['internal'],
        },
        clientExtensionResults: {},
        authenticatorAttachment: 'platform',
      };
    },
    /** navigator.credentials.get(): uses an allowed credential, or the first one (discoverable). */
    authenticate(
      request: { challenge: string; rpId?: string; allowCredentials?: { id: string }[] },
      pick?: Credential,
    ) {
      const allowed = request.allowCredentials?.length
        ? credentials.filter((c) => request.allowCredentials!.some((a) => a.id === b64u(c.id)))
        : credentials;
      const credential = pick ?? allowed[0];
      if (!credential) throw new Error('NotAllowedError: no matching credential');
      credential.counter += 1;
      const counter = Buffer.alloc(4);
      counter.writeUInt32BE(credential.counter);
      const authData = Buffer.concat([
        sha(request.rpId ?? credential.rpId),
        Buffer.from([flags(false)]),
        counter,
      ]);
      const clientData = Buffer.from(
        JSON.stringify({
          type: 'webauthn.get',
          challenge: request.challenge,
          origin: options.origin,
          crossOrigin: false,
        }),
      );
      const signature = sign('sha256', Buffer.concat([authData, sha(clientData)]), credential.key);
      return {
        id: b64u(credential.id),
        rawId: b64u(credential.id),
        type: 'public-key',
        response: {
          clientDataJSON: b64u(clientData),
          authenticatorData: b64u(authData),
          signature: b64u(signature),
          userHandle: credential.userHandle,
        },
        clientExtensionResults: {},
        authenticatorAttachment: 'platform',
      };
    },
  };
};

export type SoftAuthenticator = ReturnType<typeof createSoftAuthenticator>;
