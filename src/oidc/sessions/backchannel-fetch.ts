// The engine's outgoing requests (back-channel logout, jwks_uri, sector_identifier_uri). The
// engine refuses special-use addresses (loopback, RFC 1918, link-local...) against SSRF; an
// agency system on a government internal network is one, so hosts named in
// OUTBOUND_PRIVATE_HOSTS may be reached there. Every other host keeps the engine's guard.
type Init = RequestInit & { dispatcher?: unknown };

export const createOutboundFetch = (privateHosts: readonly string[]) => {
  const allowed = new Set(privateHosts.map((h) => h.toLowerCase()));
  return (input: string | URL | Request, init?: Init): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : input.toString());
    if (init?.dispatcher && allowed.has(url.hostname.toLowerCase())) {
      const { dispatcher: _guard, ...rest } = init;
      return globalThis.fetch(input, rest);
    }
    // globalThis.fetch looked up per call, as the engine's default does.
    return globalThis.fetch(input, init);
  };
};
