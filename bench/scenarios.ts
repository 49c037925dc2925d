// Single-request scenarios, driven by autocannon as a library against 127.0.0.1 (in the bench's
// own process); bench/wrk.ts drives the same scenarios with wrk.
import autocannon from 'autocannon';
import { basic } from './flows.ts';

export const SCENARIOS = [
  'discovery',
  'jwks',
  'token_cc',
  'token_refresh',
  'userinfo',
  'introspection',
  'signin',
] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** The load generators: autocannon and wrk for single requests, bench/flows.ts for sign-ins. */
export type Tool = 'autocannon' | 'wrk' | 'flows';

export type Measurement = {
  scenario: string;
  target: string;
  /** Absent in results written before wrk was added (autocannon, or flows for sign-ins). */
  tool?: Tool;
  connections: number;
  perSecond: number;
  p50: number;
  p99: number;
  total: number;
  errors: number;
  firstError?: string;
  serverCpuMsPerOp?: number;
  /** With --repeat: how many rounds this row is the median of. */
  rounds?: number;
  /** The load generator's own CPU per request (user + system): what it takes from the cores. */
  generatorCpuMsPerOp?: number;
};
/** Tokens minted before the timed window: refresh tokens rotate (each use puts its successor back). */
export type Pools = { refresh: string[]; access: string[] };
export type Server = { port: number; issuer: string; clientId: string; clientSecret: string };

const form = 'application/x-www-form-urlencoded';

const requestsFor = (
  scenario: ScenarioName,
  server: Server,
  pools: Pools,
): autocannon.Request[] => {
  const auth = basic(server);
  let next = 0;
  const access = () => pools.access[next++ % pools.access.length]!;
  switch (scenario) {
    case 'discovery':
      return [{ method: 'GET', path: '/.well-known/openid-configuration' }];
    case 'jwks':
      return [{ method: 'GET', path: '/jwks' }];
    case 'token_cc':
      return [
        {
          method: 'POST',
          path: '/token',
          headers: { authorization: auth, 'content-type': form },
          body: 'grant_type=client_credentials',
        },
      ];
    case 'token_refresh':
      return [
        {
          method: 'POST',
          path: '/token',
          headers: { authorization: auth, 'content-type': form },
          setupRequest: (req) => ({
            ...req,
            body: `grant_type=refresh_token&refresh_token=${encodeURIComponent(pools.refresh.shift() ?? 'exhausted')}`,
          }),
          onResponse: (status, body) => {
            if (status === 200)
              pools.refresh.push((JSON.parse(body) as { refresh_token: string }).refresh_token);
          },
        },
      ];
    case 'userinfo':
      return [
        {
          method: 'GET',
          path: '/me',
          setupRequest: (req) => ({
            ...req,
            headers: { ...req.headers, authorization: `Bearer ${access()}` },
          }),
        },
      ];
    case 'introspection':
      return [
        {
          method: 'POST',
          path: '/token/introspection',
          headers: { authorization: auth, 'content-type': form },
          setupRequest: (req) => ({ ...req, body: `token=${access()}` }),
        },
      ];
    default:
      throw new Error(`${scenario} is not a single-request scenario`);
  }
};

export const measure = async (
  scenario: ScenarioName,
  server: Server,
  pools: Pools,
  connections: number,
  seconds: number,
): Promise<Measurement> => {
  const host = new URL(server.issuer).host;
  const cpuBefore = process.cpuUsage();
  const result = await autocannon({
    url: `http://127.0.0.1:${server.port}`,
    connections,
    duration: seconds,
    headers: { host },
    requests: requestsFor(scenario, server, pools),
  });
  const cpu = process.cpuUsage(cpuBefore);
  const ok = result['2xx'];
  const errors = result.errors + result.timeouts + result.non2xx;
  return {
    scenario,
    target: '',
    tool: 'autocannon',
    connections,
    perSecond: ok / (result.duration || seconds),
    p50: result.latency.p50,
    p99: result.latency.p99,
    total: ok,
    errors,
    ...(ok > 0 && { generatorCpuMsPerOp: +((cpu.user + cpu.system) / 1000 / ok).toFixed(3) }),
  };
};
