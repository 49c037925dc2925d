// A small keep-alive HTTP client for multi-step flows (autocannon drives single requests):
// every request goes to 127.0.0.1:port whatever host the URL names (the issuer is
// http://localhost:port because WebAuthn needs a domain as RP ID), with a cookie jar per
// simulated browser and manual redirects.
import { Agent, request } from 'node:http';

export type Reply = {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
};

export const createHttp = (port: number, maxSockets: number) => {
  const agent = new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  const send = (
    url: string,
    init: { method?: string; headers?: Record<string, string>; body?: string } = {},
  ) =>
    new Promise<Reply>((resolve, reject) => {
      const target = new URL(url);
      const req = request(
        {
          host: '127.0.0.1',
          port,
          agent,
          method: init.method ?? 'GET',
          path: target.pathname + target.search,
          headers: {
            host: target.host,
            ...init.headers,
            ...(init.body !== undefined && {
              'content-length': String(Buffer.byteLength(init.body)),
            }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks).toString('utf8'),
            }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      if (init.body !== undefined) req.write(init.body);
      req.end();
    });
  return { send, close: () => agent.destroy() };
};

export type Http = ReturnType<typeof createHttp>;

/** A browser: cookies (name=value only; the bench never crosses sites) and redirects. */
export const createBrowser = (http: Http) => {
  const jar = new Map<string, string>();
  const keep = (reply: Reply) => {
    const set = reply.headers['set-cookie'];
    for (const line of Array.isArray(set) ? set : set ? [set] : []) {
      const pair = line.slice(0, line.indexOf(';') >>> 0);
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (!value || /max-age=0|expires=Thu, 01 Jan 1970/i.test(line)) jar.delete(name);
      else jar.set(name, value);
    }
    return reply;
  };
  const headers = (extra: Record<string, string> = {}) =>
    jar.size ? { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; '), ...extra } : extra;
  const go = async (
    url: string,
    init: { method?: string; headers?: Record<string, string>; body?: string } = {},
  ) => keep(await http.send(url, { ...init, headers: headers(init.headers) }));
  return {
    go,
    /** Follows redirects while they stay under `origin`; returns the last reply and URL. */
    async follow(
      url: string,
      origin: string,
      init: { method?: string; headers?: Record<string, string>; body?: string } = {},
    ) {
      let current = url;
      let reply = await go(current, init);
      for (let hops = 0; hops < 10 && reply.status >= 300 && reply.status < 400; hops += 1) {
        current = new URL(String(reply.headers.location), current).toString();
        if (!current.startsWith(origin)) return { reply, url: current };
        reply = await go(current);
      }
      return { reply, url: current };
    },
  };
};
