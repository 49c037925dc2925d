// The benchmark harness runs end to end (never a speed assertion: this machine is shared):
// a 1-second window per measurement, the bare engine and One-ID on the embedded default.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/** Runs `script` under tsx with `args` and `--out <temporary file>`; the run and its JSON report. */
const runBench = <Report>(script: string, args: string[]) => {
  const dir = mkdtempSync(join(tmpdir(), 'oneid-bench-test-'));
  try {
    const out = join(dir, 'report.json');
    const run = spawnSync(process.execPath, ['--import', 'tsx', script, ...args, '--out', out], {
      encoding: 'utf8',
      timeout: 150_000,
    });
    expect(run.status, run.stderr).toBe(0);
    return { stdout: run.stdout, report: JSON.parse(readFileSync(out, 'utf8')) as Report };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

describe('npm run bench', () => {
  it('measures each scenario against the bare engine and writes the table as JSON', () => {
    const { stdout, report } = runBench<{
      machine: { cpus: number; loadBefore: number[] };
      results: {
        scenario: string;
        target: string;
        perSecond: number;
        errors: number;
        ratio?: number;
      }[];
    }>('bench/run.ts', [
      ...['--seconds', '1', '--connections', '2', '--targets', 'baseline,embedded'],
      ...['--scenarios', 'discovery,token_cc,userinfo,signin', '--accounts', '10'],
    ]);
    expect(stdout).toMatch(/x baseline/);
    expect(report.machine.cpus).toBeGreaterThan(0);
    expect(report.results.map((r) => `${r.scenario}:${r.target}`).sort()).toEqual([
      'discovery:baseline',
      'discovery:embedded',
      'signin:baseline',
      'signin:embedded',
      'token_cc:baseline',
      'token_cc:embedded',
      'userinfo:baseline',
      'userinfo:embedded',
    ]);
    for (const r of report.results) {
      expect(r.errors, `${r.scenario} ${r.target}`).toBe(0);
      expect(r.perSecond, `${r.scenario} ${r.target}`).toBeGreaterThan(0);
      if (r.target !== 'baseline') expect(r.ratio).toBeGreaterThan(0);
    }
  }, 180_000);

  it('charges each request kind its own CPU from a profile (npm run bench:cpu)', () => {
    const { stdout, report } = runBench<{
      byTarget: Record<
        string,
        { kind: string; requests: number; msPerRequest: number; modules: { module: string }[] }[]
      >;
    }>('bench/request-cpu.ts', [
      ...['--targets', 'baseline,embedded', '--flows', '5', '--requests', '20'],
    ]);
    const kinds = (target: string) =>
      Object.fromEntries(report.byTarget[target]!.map((r) => [r.kind, r]));
    const oneId = kinds('embedded');
    const engine = kinds('baseline');
    // Only the measured requests count (the warm-up's 50 sign-ins are left out).
    expect(oneId['POST /interaction/:uid/passkey/verify']?.requests).toBe(6);
    expect(engine['GET /interaction/:uid']?.requests).toBe(6);
    expect(oneId['POST /token (client_credentials)']?.requests).toBe(20);
    expect(engine['GET /me']?.requests).toBe(20);
    // Every step of a sign-in costs enough to be sampled (every 200 µs) on both.
    const signIn = ['GET /auth', 'GET /interaction/:uid', 'GET /auth/:uid', 'POST /token'];
    for (const row of [...signIn.map((k) => oneId[k]), ...signIn.map((k) => engine[k])]) {
      expect(row?.msPerRequest, row?.kind).toBeGreaterThan(0);
      expect(row?.modules.length, row?.kind).toBeGreaterThan(0);
    }
    // Each target's requests are its own: the engine has no passkey steps.
    expect(engine['POST /interaction/:uid/passkey/verify']).toBeUndefined();
    expect(stdout).toMatch(/largest modules/);
  }, 180_000);
});
