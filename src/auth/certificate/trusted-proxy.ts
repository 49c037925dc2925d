// Is the TCP peer one of our TLS-terminating proxies? Only then may the HTTP layer
// read forwarded client-certificate headers. Entries are IPs or CIDR ranges; IPv4
// addresses also match in their IPv4-mapped IPv6 form (::ffff:10.0.0.1).
import { isIPv4, isIPv6 } from 'node:net';

interface Range {
  bytes: Uint8Array;
  prefix: number;
}

const parseIPv4 = (text: string): number[] | null => {
  if (!isIPv4(text)) return null;
  return text.split('.').map(Number);
};

/** 16 bytes, IPv4 as ::ffff:a.b.c.d; null when not an IP address. */
const parseIp = (input: string): Uint8Array | null => {
  const text = input.trim();
  const v4 = parseIPv4(text);
  if (v4) return new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...v4]);
  const address = text.replace(/%.*$/, ''); // zone id (fe80::1%eth0)
  if (!isIPv6(address)) return null;
  let groups = address;
  const lastColon = groups.lastIndexOf(':');
  const tail = parseIPv4(groups.slice(lastColon + 1));
  if (tail) {
    const hex = (hi: number, lo: number): string => ((hi << 8) | lo).toString(16);
    groups = `${groups.slice(0, lastColon + 1)}${hex(tail[0]!, tail[1]!)}:${hex(tail[2]!, tail[3]!)}`;
  }
  const [head = '', rest] = groups.split('::');
  const headParts = head === '' ? [] : head.split(':');
  const restParts = rest === undefined || rest === '' ? [] : rest.split(':');
  const fill = rest === undefined ? 0 : 8 - headParts.length - restParts.length;
  const all = [...headParts, ...Array<string>(fill).fill('0'), ...restParts];
  if (all.length !== 8) return null;
  const bytes = new Uint8Array(16);
  all.forEach((group, index) => {
    const value = parseInt(group, 16);
    bytes[index * 2] = value >> 8;
    bytes[index * 2 + 1] = value & 0xff;
  });
  return bytes;
};

const parseRange = (entry: string): Range => {
  const [address = '', prefixText, extra] = entry.trim().split('/');
  const bytes = parseIp(address);
  const isV4 = parseIPv4(address.trim()) !== null;
  const max = isV4 ? 32 : 128;
  const prefix =
    prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!bytes || extra !== undefined || !(prefix >= 0 && prefix <= max)) {
    throw new TypeError(`invalid trusted proxy entry "${entry}" (expected an IP or CIDR range)`);
  }
  return { bytes, prefix: isV4 ? prefix + 96 : prefix };
};

const inRange = (address: Uint8Array, range: Range): boolean => {
  for (let bit = 0; bit < range.prefix; bit += 8) {
    const bits = Math.min(8, range.prefix - bit);
    const mask = (0xff << (8 - bits)) & 0xff;
    if ((address[bit / 8]! & mask) !== (range.bytes[bit / 8]! & mask)) return false;
  }
  return true;
};

/**
 * true when `remoteAddress` (e.g. the socket's remoteAddress) is in `trustedProxies`.
 * A malformed address is simply untrusted; a malformed entry is a configuration
 * error and throws TypeError.
 */
export const isTrustedProxy = (
  remoteAddress: string,
  trustedProxies: readonly string[],
): boolean => {
  const ranges = trustedProxies.map(parseRange);
  const address = typeof remoteAddress === 'string' ? parseIp(remoteAddress) : null;
  return address !== null && ranges.some((range) => inRange(address, range));
};
