// What a session keeps about the device it was started on: a short label for the citizen
// ("Chrome · Windows") and a network prefix instead of the full IP address.
import { isIPv4, isIPv6 } from 'node:net';

// Order matters: browsers built on Chromium also say "Chrome", and Chrome says "Safari".
const BROWSERS: [RegExp, string][] = [
  [/Whale\//, 'Whale'],
  [/SamsungBrowser\//, 'Samsung Internet'],
  [/Edg(e|A|iOS)?\//, 'Edge'],
  [/OPR\/|Opera/, 'Opera'],
  [/Firefox\/|FxiOS\//, 'Firefox'],
  [/CriOS\/|Chrome\//, 'Chrome'],
  [/Version\/[\d.]+.*Safari\//, 'Safari'],
];

const SYSTEMS: [RegExp, string][] = [
  [/iPad/, 'iPadOS'],
  [/iPhone|iPod/, 'iOS'],
  [/Android/, 'Android'],
  [/CrOS/, 'ChromeOS'],
  [/Windows/, 'Windows'],
  [/Mac OS X|Macintosh/, 'macOS'],
  [/Linux/, 'Linux'],
];

/** "Browser · System" from a User-Agent header, or '' when neither is recognised. */
export const deviceLabel = (userAgent: string | null | undefined): string => {
  if (!userAgent) return '';
  const browser = BROWSERS.find(([re]) => re.test(userAgent))?.[1];
  const system = SYSTEMS.find(([re]) => re.test(userAgent))?.[1];
  return [browser, system].filter(Boolean).join(' · ');
};

/**
 * The network an address belongs to, coarse enough not to identify a household: the /24 of an
 * IPv4 address, the /48 of an IPv6 one. Only this prefix is stored with a session.
 */
export const networkOf = (ip: string | null | undefined): string | null => {
  if (!ip) return null;
  const address = ip.startsWith('::ffff:') && isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
  if (isIPv4(address)) return `${address.split('.').slice(0, 3).join('.')}.0/24`;
  if (!isIPv6(address)) return null;
  const [head = '', tail = ''] = address.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = address.includes('::')
    ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 3)
    .map((g) => (g || '0').replace(/^0+(?=.)/, '').toLowerCase())
    .join(':')}::/48`;
};

/** Keeps a User-Agent header to a sane length for storage. */
export const clipUserAgent = (userAgent: string | null | undefined): string | null =>
  userAgent ? userAgent.slice(0, 400) : null;
