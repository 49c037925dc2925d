// A minimal browser for HTTP-level flows: a cookie jar and manual redirects over real fetch.
export const createBrowserSession = () => {
  const jar = new Map<string, string>();
  const store = (res: Response) => {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const expired =
        attrs.some((a) => /max-age=0|expires=Thu, 01 Jan 1970/i.test(a)) || value === '';
      if (expired) jar.delete(name);
      else jar.set(name, value);
    }
  };
  const cookieHeader = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');

  const request = async (
    url: string | URL,
    init: RequestInit & { json?: unknown; form?: Record<string, string> } = {},
  ) => {
    const headers = new Headers(init.headers);
    if (jar.size) headers.set('cookie', cookieHeader());
    let body = init.body;
    if (init.json !== undefined) {
      headers.set('content-type', 'application/json');
      body = JSON.stringify(init.json);
    } else if (init.form) {
      headers.set('content-type', 'application/x-www-form-urlencoded');
      body = new URLSearchParams(init.form).toString();
    }
    const res = await fetch(url, { ...init, headers, body, redirect: 'manual' });
    store(res);
    return res;
  };

  return {
    jar,
    request,
    /** Follows redirects until a non-redirect or a URL outside `origin` (e.g. the RP's callback). */
    async follow(
      url: string,
      origin: string,
      init: Parameters<typeof request>[1] = {},
    ): Promise<{ res: Response; url: string }> {
      let current = url;
      let res = await request(current, init);
      for (let hops = 0; hops < 10 && res.status >= 300 && res.status < 400; hops += 1) {
        current = new URL(res.headers.get('location')!, current).toString();
        if (!current.startsWith(origin)) return { res, url: current };
        res = await request(current);
      }
      return { res, url: current };
    },
  };
};

export type BrowserSession = ReturnType<typeof createBrowserSession>;

export const csrfFrom = (html: string) =>
  /<meta name="csrf-token" content="([^"]+)"/.exec(html)?.[1] ?? '';
