// Run-time test PKI: roots, intermediates, citizen certificates, CRLs and OCSP
// responses made with fresh ECDSA P-256 WebCrypto keys, plus a local HTTP server
// that plays the CA's CRL distribution point and OCSP responder. Nothing here is
// ever written to disk: no key or certificate is committed as a fixture.
import 'reflect-metadata';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  BasicOCSPResponse,
  CertStatus,
  OCSPRequest,
  OCSPResponse,
  OCSPResponseStatus,
  ResponderID,
  ResponseBytes,
  ResponseData,
  RevokedInfo,
  SingleResponse,
  id_pkix_ocsp_basic,
  id_pkix_ocsp_nonce,
} from '@peculiar/asn1-ocsp';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  Attribute,
  Certificate,
  GeneralName,
  Name as AsnName,
  OtherName,
  SubjectAlternativeName,
  SubjectDirectoryAttributes,
} from '@peculiar/asn1-x509';
import * as x509 from '@peculiar/x509';

export const EC_KEY_ALG = { name: 'ECDSA', namedCurve: 'P-256' } as const;
export const EC_SIGNING_ALG = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY = 86_400_000;

export const OIDS = {
  clientAuth: '1.3.6.1.5.5.7.3.2',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  ocspSigning: '1.3.6.1.5.5.7.3.9',
} as const;

export interface Issued {
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
  pem: string;
  der: Buffer;
  /** base64 DER, as in a JWS x5c entry. */
  b64: string;
}

export const generateKeys = async (): Promise<CryptoKeyPair> =>
  (await crypto.subtle.generateKey(EC_KEY_ALG, true, ['sign', 'verify'])) as CryptoKeyPair;

const issued = (cert: x509.X509Certificate, keys: CryptoKeyPair): Issued => {
  const der = Buffer.from(cert.rawData);
  return { cert, keys, der, pem: cert.toString('pem'), b64: der.toString('base64') };
};

let serialCounter = 0x1000;
/** Unique positive serial (hex). */
export const nextSerial = (): string => {
  serialCounter += 1;
  return `01${Date.now().toString(16)}${serialCounter.toString(16)}`;
};

interface ValidityOptions {
  notBefore?: Date;
  notAfter?: Date;
  /** Shortcut: valid from 2 years ago until yesterday. */
  expired?: boolean;
  /** Shortcut: valid from tomorrow. */
  notYetValid?: boolean;
}

const validity = (options: ValidityOptions): { notBefore: Date; notAfter: Date } => {
  const now = Date.now();
  if (options.expired)
    return { notBefore: new Date(now - 730 * DAY), notAfter: new Date(now - DAY) };
  if (options.notYetValid)
    return { notBefore: new Date(now + DAY), notAfter: new Date(now + 365 * DAY) };
  return {
    notBefore: options.notBefore ?? new Date(now - DAY),
    notAfter: options.notAfter ?? new Date(now + 365 * DAY),
  };
};

interface RevocationPointers {
  crlUrl?: string;
  ocspUrl?: string;
}

const pointerExtensions = (options: RevocationPointers): x509.Extension[] => [
  ...(options.crlUrl ? [new x509.CRLDistributionPointsExtension([options.crlUrl])] : []),
  ...(options.ocspUrl ? [new x509.AuthorityInfoAccessExtension({ ocsp: [options.ocspUrl] })] : []),
];

const keyIdExtensions = async (
  subjectKey: CryptoKey,
  issuerKey: CryptoKey,
): Promise<x509.Extension[]> => [
  await x509.SubjectKeyIdentifierExtension.create(subjectKey),
  await x509.AuthorityKeyIdentifierExtension.create(issuerKey),
];

export interface CaOptions extends ValidityOptions, RevocationPointers {
  name?: string;
  pathLength?: number;
  /** basicConstraints cA; false makes a "CA" that must be refused. Default true. */
  ca?: boolean;
  keys?: CryptoKeyPair;
}

const caExtensions = (options: CaOptions): x509.Extension[] => [
  new x509.BasicConstraintsExtension(options.ca ?? true, options.pathLength, true),
  new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
];

export const createRootCa = async (options: CaOptions = {}): Promise<Issued> => {
  const keys = options.keys ?? (await generateKeys());
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: nextSerial(),
    name: options.name ?? 'CN=One-ID Test Root CA, O=One-ID Test, C=KR',
    keys,
    signingAlgorithm: EC_SIGNING_ALG,
    ...validity(options),
    extensions: [
      ...caExtensions(options),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return issued(cert, keys);
};

export const createIntermediateCa = async (
  issuer: Issued,
  options: CaOptions = {},
): Promise<Issued> => {
  const keys = options.keys ?? (await generateKeys());
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: nextSerial(),
    subject: options.name ?? 'CN=One-ID Test Citizen CA, O=One-ID Test, C=KR',
    issuer: issuer.cert.subjectName,
    publicKey: keys.publicKey,
    signingKey: issuer.keys.privateKey,
    signingAlgorithm: EC_SIGNING_ALG,
    ...validity(options),
    extensions: [
      ...caExtensions(options),
      ...(await keyIdExtensions(keys.publicKey, issuer.keys.publicKey)),
      ...pointerExtensions(options),
    ],
  });
  return issued(cert, keys);
};

export interface LeafOptions extends ValidityOptions, RevocationPointers {
  commonName?: string;
  /** Subject DN serialNumber (2.5.4.5), the holder id within the CA. */
  subjectSerialNumber?: string;
  givenName?: string;
  surname?: string;
  email?: string;
  otherName?: { typeId: string; text: string };
  /** YYYY-MM-DD, written to subjectDirectoryAttributes dateOfBirth. */
  birthdate?: string;
  /** extendedKeyUsage OIDs; null omits the extension. Default [clientAuth]. */
  eku?: string[] | null;
  /** KeyUsageFlags; null omits the extension. Default digitalSignature | nonRepudiation. */
  keyUsage?: number | null;
  policies?: string[];
  serialNumber?: string;
  keys?: CryptoKeyPair;
  /** Extra extensions, e.g. an unsupported critical one. */
  extensions?: x509.Extension[];
}

const utf8 = (text: string): ArrayBuffer => {
  const bytes = Buffer.from(text, 'utf8');
  const der = Buffer.concat([Buffer.from([0x0c, bytes.length]), bytes]);
  return new Uint8Array(der).buffer;
};

const generalizedTime = (date: string): ArrayBuffer => {
  const text = `${date.replaceAll('-', '')}120000Z`; // RFC 3739: 12:00 GMT
  return new Uint8Array(
    Buffer.concat([Buffer.from([0x18, text.length]), Buffer.from(text, 'latin1')]),
  ).buffer;
};

export const createLeaf = async (issuer: Issued, options: LeafOptions = {}): Promise<Issued> => {
  const keys = options.keys ?? (await generateKeys());
  const subject: Record<string, string[]>[] = [{ C: ['KR'] }, { O: ['One-ID Test'] }];
  if (options.commonName !== undefined || options.givenName === undefined)
    subject.push({ CN: [options.commonName ?? 'Hong Gildong'] });
  if (options.givenName) subject.push({ '2.5.4.42': [options.givenName] });
  if (options.surname) subject.push({ '2.5.4.4': [options.surname] });
  if (options.subjectSerialNumber) subject.push({ '2.5.4.5': [options.subjectSerialNumber] });

  const san: GeneralName[] = [];
  if (options.email) san.push(new GeneralName({ rfc822Name: options.email }));
  if (options.otherName) {
    san.push(
      new GeneralName({
        otherName: new OtherName({
          typeId: options.otherName.typeId,
          value: utf8(options.otherName.text),
        }),
      }),
    );
  }
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    ...(await keyIdExtensions(keys.publicKey, issuer.keys.publicKey)),
    ...pointerExtensions(options),
    ...(options.extensions ?? []),
  ];
  const keyUsage =
    options.keyUsage === undefined
      ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation
      : options.keyUsage;
  if (keyUsage !== null) extensions.push(new x509.KeyUsagesExtension(keyUsage, true));
  const eku = options.eku === undefined ? [OIDS.clientAuth] : options.eku;
  if (eku !== null) extensions.push(new x509.ExtendedKeyUsageExtension(eku, false));
  if (options.policies)
    extensions.push(new x509.CertificatePolicyExtension(options.policies, false));
  if (san.length > 0)
    extensions.push(
      new x509.Extension('2.5.29.17', false, AsnConvert.serialize(new SubjectAlternativeName(san))),
    );
  if (options.birthdate) {
    const attributes = new SubjectDirectoryAttributes([
      new Attribute({ type: '1.3.6.1.5.5.7.9.1', values: [generalizedTime(options.birthdate)] }),
    ]);
    extensions.push(new x509.Extension('2.5.29.9', false, AsnConvert.serialize(attributes)));
  }

  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: options.serialNumber ?? nextSerial(),
    subject: new x509.Name(subject),
    issuer: issuer.cert.subjectName,
    publicKey: keys.publicKey,
    signingKey: issuer.keys.privateKey,
    signingAlgorithm: EC_SIGNING_ALG,
    ...validity(options),
    extensions,
  });
  return issued(cert, keys);
};

/** A delegated OCSP responder certificate (id-kp-OCSPSigning) issued by `issuer`. */
export const createOcspResponderCert = async (
  issuer: Issued,
  options: { eku?: string[] } = {},
): Promise<Issued> =>
  createLeaf(issuer, {
    commonName: 'One-ID Test OCSP Responder',
    eku: options.eku ?? [OIDS.ocspSigning],
    keyUsage: x509.KeyUsageFlags.digitalSignature,
  });

/** Flip the last byte of the certificate, which lies inside its signature value. */
export const tamperSignature = (der: Buffer): Buffer => {
  const copy = Buffer.from(der);
  copy[copy.length - 1] = copy[copy.length - 1]! ^ 0x01;
  return copy;
};

export interface CrlOptions {
  revokedSerials?: string[];
  thisUpdate?: Date;
  /** Default: one hour after thisUpdate. null omits nextUpdate. */
  nextUpdate?: Date | null;
  /** Sign with this key instead of the issuer's (a forged CRL). */
  signingKey?: CryptoKey;
}

export const createCrl = async (issuer: Issued, options: CrlOptions = {}): Promise<Buffer> => {
  const thisUpdate = options.thisUpdate ?? new Date(Date.now() - 60_000);
  const nextUpdate =
    options.nextUpdate === undefined
      ? new Date(thisUpdate.getTime() + 3_600_000)
      : options.nextUpdate;
  const crl = await x509.X509CrlGenerator.create({
    issuer: issuer.cert.subjectName,
    thisUpdate,
    ...(nextUpdate ? { nextUpdate } : {}),
    entries: (options.revokedSerials ?? []).map((serialNumber) => ({
      serialNumber,
      revocationDate: new Date(thisUpdate.getTime() - 60_000),
      reason: x509.X509CrlReason.keyCompromise,
    })),
    signingKey: options.signingKey ?? issuer.keys.privateKey,
    signingAlgorithm: EC_SIGNING_ALG,
  });
  return Buffer.from(crl.rawData);
};

export type OcspCertStatus = 'good' | 'revoked' | 'unknown';

export interface OcspResponseOptions {
  /** Status per lowercase hex serial; default 'good'. */
  status?: (serialHex: string) => OcspCertStatus;
  /** Sign as this delegated responder (its certificate is embedded) instead of the issuer. */
  responder?: Issued;
  /** Sign with this key while claiming to be the issuer (a forged response). */
  signingKey?: CryptoKey;
  thisUpdate?: Date;
  nextUpdate?: Date;
  /** Echo the request nonce (default true). */
  echoNonce?: boolean;
}

const toHex = (bytes: ArrayBuffer): string => {
  const hex = Buffer.from(bytes)
    .toString('hex')
    .replace(/^(00)+/, '');
  return hex === '' ? '0' : hex;
};

/** A DER OCSPResponse answering `requestDer`, signed by `issuer` or a delegated responder. */
export const createOcspResponse = async (
  issuer: Issued,
  requestDer: Uint8Array,
  options: OcspResponseOptions = {},
): Promise<Buffer> => {
  const request = AsnConvert.parse(new Uint8Array(requestDer), OCSPRequest);
  const thisUpdate = options.thisUpdate ?? new Date(Date.now() - 60_000);
  const nextUpdate = options.nextUpdate ?? new Date(thisUpdate.getTime() + 3_600_000);
  const responses = request.tbsRequest.requestList.map((item) => {
    const status = options.status?.(toHex(item.reqCert.serialNumber)) ?? 'good';
    const certStatus =
      status === 'good'
        ? new CertStatus({ good: null })
        : status === 'revoked'
          ? new CertStatus({
              revoked: new RevokedInfo({ revocationTime: new Date(thisUpdate.getTime() - 60_000) }),
            })
          : new CertStatus({ unknown: null });
    return new SingleResponse({ certID: item.reqCert, certStatus, thisUpdate, nextUpdate });
  });
  const signer = options.responder ?? issuer;
  const nonce = request.tbsRequest.requestExtensions?.find(
    (ext) => ext.extnID === id_pkix_ocsp_nonce,
  );
  const tbs = new ResponseData({
    responderID: new ResponderID({
      byName: AsnConvert.parse(signer.cert.subjectName.toArrayBuffer(), AsnName),
    }),
    producedAt: new Date(),
    responses,
    ...(nonce && options.echoNonce !== false ? { responseExtensions: [nonce] } : {}),
  });
  const signature = await crypto.subtle.sign(
    EC_SIGNING_ALG,
    options.signingKey ?? signer.keys.privateKey,
    AsnConvert.serialize(tbs),
  );
  const basic = new BasicOCSPResponse({
    tbsResponseData: tbs,
    signatureAlgorithm: new x509.AlgorithmProvider().toAsnAlgorithm({
      name: 'ECDSA',
      hash: { name: 'SHA-256' },
    } as Algorithm),
    signature: new x509.AsnEcSignatureFormatter().toAsnSignature(
      { ...EC_KEY_ALG, ...EC_SIGNING_ALG } as Algorithm,
      signature,
    )!,
    ...(options.responder
      ? { certs: [AsnConvert.parse(options.responder.cert.rawData, Certificate)] }
      : {}),
  });
  const response = new OCSPResponse({
    responseStatus: OCSPResponseStatus.successful,
    responseBytes: new ResponseBytes({
      responseType: id_pkix_ocsp_basic,
      response: new OctetString(AsnConvert.serialize(basic)),
    }),
  });
  return Buffer.from(AsnConvert.serialize(response));
};

/** An OCSPResponse with an error status and no body (e.g. tryLater). */
export const createOcspErrorResponse = (status: OCSPResponseStatus): Buffer =>
  Buffer.from(AsnConvert.serialize(new OCSPResponse({ responseStatus: status })));

type Route =
  | { kind: 'static'; body: Buffer; contentType: string }
  | { kind: 'dynamic'; handler: (body: Buffer) => Promise<Buffer>; contentType: string }
  | { kind: 'hang' }
  | { kind: 'status'; status: number };

export interface PkiServer {
  /** http://127.0.0.1:<port> */
  url: string;
  serveCrl(path: string, der: Buffer): void;
  answerOcsp(path: string, handler: (requestDer: Buffer) => Promise<Buffer>): void;
  /** Accept the request and never answer. */
  hang(path: string): void;
  fail(path: string, status: number): void;
  requestCount(path: string): number;
  close(): Promise<void>;
}

const readBody = async (req: IncomingMessage): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
};

/** Local CRL distribution point / OCSP responder on 127.0.0.1, random port. */
export const startPkiServer = async (): Promise<PkiServer> => {
  const routes = new Map<string, Route>();
  const counts = new Map<string, number>();
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    counts.set(path, (counts.get(path) ?? 0) + 1);
    void readBody(req)
      .then(async (body) => {
        const route = routes.get(path);
        if (!route) return void res.writeHead(404).end();
        if (route.kind === 'hang') return;
        if (route.kind === 'status') return void res.writeHead(route.status).end();
        const payload = route.kind === 'static' ? route.body : await route.handler(body);
        res
          .writeHead(200, { 'content-type': route.contentType, 'content-length': payload.length })
          .end(payload);
      })
      .catch(() => res.writeHead(500).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    serveCrl: (path, der) =>
      routes.set(path, { kind: 'static', body: der, contentType: 'application/pkix-crl' }),
    answerOcsp: (path, handler) =>
      routes.set(path, { kind: 'dynamic', handler, contentType: 'application/ocsp-response' }),
    hang: (path) => routes.set(path, { kind: 'hang' }),
    fail: (path, status) => routes.set(path, { kind: 'status', status }),
    requestCount: (path) => counts.get(path) ?? 0,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
};

/** A URL on 127.0.0.1 where nothing listens (connection refused). */
export const closedPortUrl = async (): Promise<string> => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
};
