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

/** Self time summed by package or source folder: a coarser "where does the time go". */
export const summariseByModule = (path: string): { module: string; percent: number }[] => {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const sums = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    total += delta;
    const url = byId.get(id)?.callFrame.url ?? '';
    const name = byId.get(id)?.callFrame.functionName ?? '';
    const module = !url
      ? name || '(native)'
      : url.includes('/node_modules/')
        ? url.replace(/^.*\/node_modules\/((@[^/]+\/)?[^/]+).*$/, '$1')
        : url.startsWith('node:')
          ? 'node:' + url.slice(5).split('/')[0]
          : shortUrl(url).split('/').slice(0, 2).join('/');
    sums.set(module, (sums.get(module) ?? 0) + delta);
  });
  return [...sums]
    .sort((a, b) => b[1] - a[1])
    .map(([module, us]) => ({ module, percent: (100 * us) / (total || 1) }));
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
