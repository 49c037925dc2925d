// Single-request scenarios driven by wrk (a C load generator, Debian's `wrk` package) in its own
// process: one thread, a generated Lua script per run. It takes far less CPU per request than
// autocannon in the bench's own Node process, so on a small machine it compresses the ratios
// against the bare engine less. Tokens minted before the window are fed by the script: access
// tokens in turn (userinfo, introspection), refresh tokens from a queue that each 200 answer
// refills with its rotated successor (one thread: one Lua state holds the queue).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { basic } from './flows.ts';
import type { Measurement, Pools, ScenarioName, Server } from './scenarios.ts';

const WRK = process.env.BENCH_WRK ?? 'wrk';
const CLOCK_TICKS = 100;

/** Whether wrk can be run here. */
export const wrkAvailable = () => spawnSync(WRK, ['--version']).error === undefined;

// Token values are base64url (or the engine's opaque format): anything else would need escaping.
const luaString = (value: string) => {
  if (!/^[\w.~+/=-]*$/.test(value)) throw new Error(`unexpected token value ${value.slice(0, 20)}`);
  return `"${value}"`;
};
const luaTable = (values: string[]) => `{ ${values.map(luaString).join(', ')} }`;
const luaHeaders = (headers: Record<string, string>) =>
  `{ ${Object.entries(headers)
    .map(([name, value]) => `["${name}"] = ${JSON.stringify(value)}`)
    .join(', ')} }`;

// Prints one line the bench parses: requests, duration and latencies in microseconds.
const DONE = `
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK_RESULT {"requests":%d,"durationUs":%d,"status":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"p50Us":%d,"p99Us":%d}\\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
`;

/** The Lua script of one scenario against one server (pools as they are now). */
const scriptFor = (scenario: ScenarioName, server: Server, pools: Pools): string => {
  const host = new URL(server.issuer).host;
  const form = {
    Host: host,
    Authorization: basic(server),
    'Content-Type': 'application/x-www-form-urlencoded',
  };
  const fixed = (method: string, path: string, headers: Record<string, string>, body?: string) =>
    [
      `wrk.method = "${method}"`,
      `wrk.path = "${path}"`,
      `wrk.headers = ${luaHeaders(headers)}`,
      ...(body ? [`wrk.body = "${body}"`] : []),
    ].join('\n');
  switch (scenario) {
    case 'discovery':
      return fixed('GET', '/.well-known/openid-configuration', { Host: host });
    case 'jwks':
      return fixed('GET', '/jwks', { Host: host });
    case 'token_cc':
      return fixed('POST', '/token', form, 'grant_type=client_credentials');
    case 'userinfo':
    case 'introspection': {
      // Every request prepared once, then sent in turn.
      const request =
        scenario === 'userinfo'
          ? `wrk.format("GET", "/me", { Host = "${host}", Authorization = "Bearer " .. t })`
          : `wrk.format("POST", "/token/introspection", ${luaHeaders(form)}, "token=" .. t)`;
      return `
local tokens = ${luaTable(pools.access)}
local prepared = {}
local n = 0
function init(args)
  for i, t in ipairs(tokens) do prepared[i] = ${request} end
end
function request()
  n = n % #prepared + 1
  return prepared[n]
end
`;
    }
    case 'token_refresh':
      return `
local pool = ${luaTable(pools.refresh)}
function request()
  local t = table.remove(pool, 1) or "exhausted"
  return wrk.format("POST", "/token", ${luaHeaders(form)}, "grant_type=refresh_token&refresh_token=" .. t)
end
function response(status, headers, body)
  if status == 200 then
    local t = body:match('"refresh_token":"([^"]+)"')
    if t then pool[#pool + 1] = t end
  end
end
`;
    default:
      throw new Error(`${scenario} is not a single-request scenario`);
  }
};

type WrkResult = {
  requests: number;
  durationUs: number;
  status: number;
  connect: number;
  read: number;
  write: number;
  timeout: number;
  p50Us: number;
  p99Us: number;
};

/**
 * Runs wrk under a shell that prints its own /proc stat after waiting for it: the shell's
 * cutime + cstime are wrk's CPU seconds (the load generator's cost, recorded per request).
 */
const runWrk = (args: string[]) =>
  new Promise<{ result: WrkResult; cpuSeconds: number | undefined }>((resolve, reject) => {
    const child = spawn(
      '/bin/sh',
      ['-c', '"$0" "$@"; status=$?; cat /proc/$$/stat; exit $status', WRK, ...args],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('WRK_RESULT '));
      if (code !== 0 || !line) return reject(new Error(`wrk failed (${code}): ${err}${out}`));
      const stat = out.split('\n').find((l) => /^\d+ \(/.test(l));
      const fields = stat?.split(') ')[1]?.split(' ');
      const cpuSeconds = fields
        ? (Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS
        : undefined;
      resolve({ result: JSON.parse(line.slice('WRK_RESULT '.length)) as WrkResult, cpuSeconds });
    });
  });

/** One scenario for `seconds` at `connections` with wrk (one thread). */
export const measureWithWrk = async (
  scenario: ScenarioName,
  server: Server,
  pools: Pools,
  connections: number,
  seconds: number,
): Promise<Measurement> => {
  const dir = mkdtempSync(join(tmpdir(), 'oneid-wrk-'));
  try {
    const script = join(dir, `${scenario}.lua`);
    writeFileSync(script, `${scriptFor(scenario, server, pools)}\n${DONE}`);
    const { result, cpuSeconds } = await runWrk([
      '-t1',
      `-c${connections}`,
      `-d${seconds}s`,
      '--timeout',
      '10s',
      '-s',
      script,
      `http://127.0.0.1:${server.port}`,
    ]);
    // wrk counts answers of 400 and above as `status` errors; every other answer is a success here.
    const ok = result.requests - result.status;
    const errors = result.status + result.connect + result.read + result.write + result.timeout;
    return {
      scenario,
      target: '',
      tool: 'wrk',
      connections,
      perSecond: ok / (result.durationUs / 1e6 || seconds),
      p50: result.p50Us / 1000,
      p99: result.p99Us / 1000,
      total: ok,
      errors,
      ...(cpuSeconds !== undefined &&
        ok > 0 && { generatorCpuMsPerOp: +((cpuSeconds * 1000) / ok).toFixed(3) }),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};
