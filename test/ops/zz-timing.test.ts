import { it } from 'vitest';
import { freePort, startTestApp } from '../support/app.ts';
it('timing', async () => {
  let t = performance.now();
  const closed = await freePort();
  const app = await startTestApp({ REDIS_URL: `redis://127.0.0.1:${closed}` });
  console.log('start', performance.now() - t); t = performance.now();
  const r = await fetch(`${app.issuer}/readyz`); console.log('readyz', r.status, performance.now() - t); t = performance.now();
  await app.stop(); console.log('stop', performance.now() - t);
  t = performance.now();
  const app2 = await startTestApp();
  console.log('start2', performance.now() - t); t = performance.now();
  await app2.stop(); console.log('stop2', performance.now() - t);
}, 60000);
