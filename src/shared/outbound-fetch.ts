// fetch for One-ID's own outgoing requests (claim sources, their JWKS and events endpoints,
// upstream identity providers), refusing loopback, private and other special-use addresses
// against SSRF as the engine does for its own requests (src/oidc/sessions/backchannel-fetch.ts): the
// check runs on the connected socket, so a name re-resolving to another address cannot slip
// past it. Hosts named in OUTBOUND_PRIVATE_HOSTS (agency systems on internal networks) are
// reached without the check.
import { BlockList, isIP } from 'node:net';

export type OutboundFetch = typeof globalThis.fetch;

// The special-use ranges (IANA IPv4/IPv6 Special-Purpose Address Registries) the engine refuses.
const SPECIAL_USE = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.31.196.0', 24],
  ['192.52.193.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['192.175.48.0', 24],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['240.0.0.0', 4],
] as const)
  SPECIAL_USE.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 23],
  ['2001:db8::', 32],
  ['2002::', 16],
  ['2620:4f:8000::', 48],
  ['3fff::', 20],
  ['5f00::', 16],
  ['fc00::', 7],
  ['fe80::', 10],
] as const)
  SPECIAL_USE.addSubnet(net, prefix, 'ipv6');

/** True for an address One-ID must not call unless its host is listed (IPv4-mapped IPv6 included). */
export const isSpecialUseAddress = (address: string): boolean => {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return SPECIAL_USE.check(mapped[1]!, 'ipv4');
  const family = isIP(address);
  return family === 4
    ? SPECIAL_USE.check(address, 'ipv4')
    : family === 6
      ? SPECIAL_USE.check(address, 'ipv6')
      : true;
};

type Dispatcher = {
  on: (event: 'connect', listener: (origin: unknown, targets: unknown[]) => void) => void;
};

// Node's fetch (undici) takes a `dispatcher`; its Agent class is the global dispatcher's.
let guard: Dispatcher | null | undefined;
const guardedDispatcher = (): Dispatcher | null => {
  if (guard !== undefined) return guard;
  void Response; // loads Node's fetch, which installs the global dispatcher
  const g = globalThis as Record<symbol, { constructor: new () => Dispatcher } | undefined>;
  const Agent = (
    g[Symbol.for('undici.globalDispatcher.2')] ?? g[Symbol.for('undici.globalDispatcher.1')]
  )?.constructor;
  guard = Agent ? new Agent() : null;
  guard?.on('connect', (_origin, targets) => {
    const client = targets.at(-1) as Record<symbol, unknown> | undefined;
    if (!client) return;
    const symbol = Object.getOwnPropertySymbols(client).find((s) => s.description === 'socket');
    const socket = symbol
      ? (client[symbol] as { remoteAddress?: string; destroy(e: Error): void } | undefined)
      : undefined;
    if (socket?.remoteAddress !== undefined && isSpecialUseAddress(socket.remoteAddress))
      socket.destroy(new Error('hostname resolves to a special-use IP address'));
  });
  return guard;
};

/** A fetch refusing special-use addresses except for `privateHosts` (OUTBOUND_PRIVATE_HOSTS). */
export const createOutboundFetch = (privateHosts: readonly string[]): OutboundFetch => {
  const allowed = new Set(privateHosts.map((h) => h.toLowerCase()));
  return (input, init) => {
    const url = new URL(input instanceof Request ? input.url : input.toString());
    // A URL's hostname keeps the brackets of an IPv6 address, as OUTBOUND_PRIVATE_HOSTS does.
    if (allowed.has(url.hostname.toLowerCase())) return globalThis.fetch(input, init);
    const dispatcher = guardedDispatcher();
    if (!dispatcher)
      return Promise.reject(new Error('outbound requests cannot be checked for private addresses'));
    return globalThis.fetch(input, { ...init, dispatcher } as RequestInit);
  };
};
