import { readFileSync } from 'node:fs';
const [file, fn, depth = '6'] = process.argv.slice(2);
const p = JSON.parse(readFileSync(file!, 'utf8'));
const byId = new Map<number, any>(p.nodes.map((n: any) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const counts = new Map<string, number>();
let total = 0;
p.samples.forEach((id: number, i: number) => {
  const d = p.timeDeltas[i] ?? 0;
  const n = byId.get(id);
  if (n.callFrame.functionName !== fn) return;
  total += d;
  const stack: string[] = [];
  let cur = parent.get(id);
  while (cur !== undefined && stack.length < Number(depth)) {
    const f = byId.get(cur).callFrame;
    stack.push(`${f.functionName || '(anon)'}@${f.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/\/work\/main\//, '')}:${f.lineNumber + 1}`);
    cur = parent.get(cur);
  }
  const key = stack.join(' < ');
  counts.set(key, (counts.get(key) ?? 0) + d);
});
for (const [k, v] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, 8)) console.log((100 * v / total).toFixed(1) + '%', k, '\n');
