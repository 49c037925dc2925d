// Parsing of PEM / DER / base64 certificate input into X509Certificate objects.
import { CertificateError } from '../certificate-errors.ts';
import { isSingleElement } from './der-reader.ts';
import { X509Certificate } from './x509.ts';

/** A certificate as callers hand it over: PEM text, base64 DER text, or DER/PEM bytes. */
export type CertificateInput = string | Uint8Array;

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Strict standard base64 (no URL alphabet, padding required); null when invalid. */
export const decodeBase64Strict = (text: string): Buffer | null => {
  const compact = text.replace(/\s+/g, '');
  if (compact.length === 0 || !BASE64.test(compact)) return null;
  return Buffer.from(compact, 'base64');
};

/** Every CERTIFICATE block of a PEM bundle, as DER. Other block types are rejected. */
export const pemCertificatesToDer = (pem: string): Buffer[] => {
  const ders: Buffer[] = [];
  for (const match of pem.matchAll(PEM_BLOCK)) {
    if (match[1] !== 'CERTIFICATE')
      throw new CertificateError('malformed', `unexpected PEM block "${match[1]}"`);
    const der = decodeBase64Strict(match[2] ?? '');
    if (!der) throw new CertificateError('malformed', 'PEM certificate block is not valid base64');
    ders.push(der);
  }
  return ders;
};

export const derToPem = (der: Uint8Array): string => {
  const lines =
    Buffer.from(der)
      .toString('base64')
      .match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
};

const looksLikePem = (bytes: Uint8Array): boolean =>
  Buffer.from(bytes.subarray(0, 64)).toString('latin1').includes('-----BEGIN');

/** One certificate in any accepted encoding -> DER. Throws CertificateError('malformed'). */
export const certificateToDer = (input: CertificateInput): Buffer => {
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) {
    throw new CertificateError('malformed', 'certificate must be a string or bytes');
  }
  if (typeof input !== 'string' && !looksLikePem(input)) return Buffer.from(input);
  const text = typeof input === 'string' ? input : Buffer.from(input).toString('latin1');
  if (text.includes('-----BEGIN')) {
    const ders = pemCertificatesToDer(text);
    if (ders.length !== 1)
      throw new CertificateError('malformed', `expected one PEM certificate, found ${ders.length}`);
    return ders[0]!;
  }
  const der = decodeBase64Strict(text);
  if (!der)
    throw new CertificateError('malformed', 'certificate string is neither PEM nor base64 DER');
  return der;
};

/** Parse one certificate strictly: a single DER element that @peculiar/x509 can read. */
export const parseCertificate = (input: CertificateInput): X509Certificate => {
  const der = certificateToDer(input);
  if (!isSingleElement(der))
    throw new CertificateError('malformed', 'certificate is not a single DER element');
  try {
    const cert = new X509Certificate(new Uint8Array(der));
    // Touch the lazily parsed fields so a broken structure fails here, not mid-validation.
    void cert.subject;
    void cert.issuer;
    void cert.notAfter;
    return cert;
  } catch (cause) {
    throw new CertificateError('malformed', 'certificate could not be parsed', { cause });
  }
};
