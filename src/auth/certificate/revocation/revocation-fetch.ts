// Bounded HTTP download for CRLs and OCSP: a hard deadline (even if an injected fetch
// ignores the AbortSignal) and a size cap, so a slow or hostile CA endpoint cannot
// hold a login request or exhaust memory.
import { CertificateError } from '../certificate-errors.ts';

export interface FetchBytesOptions {
  fetch: typeof fetch;
  timeoutMs: number;
  maxBytes: number;
  init?: RequestInit;
}

const readCapped = async (response: Response, maxBytes: number): Promise<Uint8Array> => {
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) throw new Error(`response of ${declared} bytes exceeds ${maxBytes}`);
  if (!response.body) return new Uint8Array(await response.arrayBuffer());
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new Error(`response exceeds ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return new Uint8Array(Buffer.concat(chunks));
};

/** GET/POST `url` and return the body; throws CertificateError('revocation_unavailable'). */
export const fetchBytes = async (url: string, options: FetchBytesOptions): Promise<Uint8Array> => {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new Error(`timed out after ${options.timeoutMs} ms`));
    }, options.timeoutMs);
  });
  const download = async (): Promise<Uint8Array> => {
    const response = await options.fetch(url, { ...options.init, signal: controller.signal });
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      throw new Error(`HTTP ${response.status}`);
    }
    return readCapped(response, options.maxBytes);
  };
  try {
    return await Promise.race([download(), deadline]);
  } catch (cause) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    throw new CertificateError('revocation_unavailable', `${url}: ${detail}`, { cause });
  } finally {
    clearTimeout(timer);
  }
};
