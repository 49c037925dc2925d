// Where the time goes: self time per function from a V8 .cpuprofile (`node --cpu-prof`),
// grouped by function and source location, idle and GC listed as such.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

type Node = {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
};
type Profile = { nodes: Node[]; samples: number[]; timeDeltas: number[] };

export type Hotspot = { function: string; location: string; percent: number; ms: number };

const shortUrl = (url: string) =>
  url
    .replace(/^file:\/\//, '')
    .replace(/^.*\/node_modules\//, '')
    .replace(/^.*\/(src|bench|test)\//, '$1/');

/** Process `pid`'s busiest profile in a --cpu-prof-dir (the main thread's; tsx's loader thread is mostly idle). */
export const mainProfile = (dir: string, pid: number): string | undefined => {
  let files: string[];
  try {
    files = readdirSync(dir)
      .filter((f) => f.endsWith('.cpuprofile') && f.includes(`.${pid}.`))
      .map((f) => join(dir, f));
  } catch {
    return undefined;
  }
  return files.sort((a, b) => statSync(b).size - statSync(a).size)[0];
};

/** The `top` functions by self time (ms and % of all samples, idle included). */
export const summariseProfile = (path: string, top = 25): Hotspot[] => {
  let profile: Profile;
  try {
    profile = JSON.parse(readFileSync(path, 'utf8')) as Profile;
  } catch {
    return [];
  }
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, { function: string; location: string; us: number }>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const delta = profile.timeDeltas[i] ?? 0;
    total += delta;
    if (!node) return;
    const f = node.callFrame;
    const name = f.functionName || '(anonymous)';
    const location = f.url ? `${shortUrl(f.url)}:${f.lineNumber + 1}` : '';
    const key = `${name}@${location}`;
    const entry = self.get(key) ?? { function: name, location, us: 0 };
    entry.us += delta;
    self.set(key, entry);
  });
  return [...self.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map((e) => ({
      function: e.function,
      location: e.location,
      percent: (100 * e.us) / (total || 1),
      ms: e.us / 1000,
    }));
};

/** Where a frame's code lives: a package, `node:<module>`, a source folder, or the VM's own name. */
const moduleOf = (frame: Node['callFrame'] | undefined) => {
  const url = frame?.url ?? '';
  if (!url) return frame?.functionName || '(native)';
  if (url.includes('/node_modules/'))
    return url.replace(/^.*\/node_modules\/((@[^/]+\/)?[^/]+).*$/, '$1');
  if (url.startsWith('node:internal/')) return url.split('/').slice(0, 2).join('/');
  if (url.startsWith('node:')) return url;
  return shortUrl(url).split('/').slice(0, 3).join('/');
};

/** Self time summed by package or source folder: a coarser "where does the time go". */
export const summariseByModule = (path: string): { module: string; percent: number }[] => {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const sums = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    total += delta;
    const module = moduleOf(byId.get(id)?.callFrame);
    sums.set(module, (sums.get(module) ?? 0) + delta);
  });
  return [...sums]
    .sort((a, b) => b[1] - a[1])
    .map(([module, us]) => ({ module, percent: (100 * us) / (total || 1) }));
};

export type RequestCpu = {
  kind: string;
  requests: number;
  /** Busy CPU (idle excluded) while one of these requests was being answered, ms per request. */
  msPerRequest: number;
  /** The same split by package or source folder, µs per request, largest first. */
  modules: { module: string; usPerRequest: number }[];
};

/**
 * A profile cut into the requests that were running when each sample was taken: sound only when
 * requests do not overlap (one connection, one at a time), which is how `bench/request-cpu.ts`
 * sends them. `spans` are [kind, startUs, endUs] on the profile's clock (bench/request-spans.ts).
 * The busy time between requests (the HTTP parser reading the next one, sockets) comes last,
 * spread over all requests.
 */
export const cpuByRequest = (
  path: string,
  spans: [string, number, number][],
  topModules = 8,
): RequestCpu[] => {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as Profile & { startTime: number };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const sorted = [...spans].sort((a, b) => a[1] - b[1]);
  const kinds = new Map<string, { requests: number; us: number; modules: Map<string, number> }>();
  for (const [kind] of sorted)
    kinds.set(kind, {
      requests: (kinds.get(kind)?.requests ?? 0) + 1,
      us: 0,
      modules: new Map(),
    });
  const between = { requests: sorted.length, us: 0, modules: new Map<string, number>() };
  let at = profile.startTime;
  let next = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    const frame = byId.get(id)?.callFrame;
    if (frame?.functionName === '(idle)') return;
    while (next < sorted.length && sorted[next]![2] < at) next += 1;
    const span = sorted[next];
    if (!span || at < sorted[0]![1]) return;
    // Busy but in no request: parsing the next request's headers, sockets, timers.
    const entry = span[1] > at ? between : kinds.get(span[0])!;
    const module = moduleOf(frame);
    entry.us += delta;
    entry.modules.set(module, (entry.modules.get(module) ?? 0) + delta);
  });
  return [...kinds, ['(between requests, per request)', between] as const].map(
    ([kind, { requests, us, modules }]) => ({
      kind,
      requests,
      msPerRequest: +(us / 1000 / requests).toFixed(3),
      modules: [...modules]
        .sort((a, b) => b[1] - a[1])
        .slice(0, topModules)
        .map(([module, moduleUs]) => ({ module, usPerRequest: Math.round(moduleUs / requests) })),
    }),
  );
};

// `npx tsx bench/profile.ts FILE.cpuprofile [N]`
if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, n] = process.argv.slice(2);
  for (const h of summariseProfile(file!, Number(n ?? 30)))
    process.stdout.write(`${h.percent.toFixed(1).padStart(5)}%  ${h.function}  ${h.location}\n`);
  process.stdout.write('\nBy module:\n');
  for (const m of summariseByModule(file!).slice(0, 20))
    process.stdout.write(`${m.percent.toFixed(1).padStart(5)}%  ${m.module}\n`);
}
