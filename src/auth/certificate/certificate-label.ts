// How error messages (and so logs) name a certificate: its issuer and serial number, never its
// subject: a citizen's certificate subject holds their name and person id, which logs must not.
import type { X509Certificate } from './validation/x509.ts';

export const certificateLabel = (cert: X509Certificate): string =>
  `certificate serial ${cert.serialNumber} issued by "${cert.issuer}"`;
