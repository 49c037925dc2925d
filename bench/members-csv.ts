// A synthetic portal export for measuring `accounts import`: N members (legacy_id, name,
// birthdate, email, phone), one in every 1,000 rows invalid (an impossible date, a bad email or
// phone, a missing name, in turn), some names quoted (with a comma). Deterministic: the same N
// gives the same file, so a second import of it finds every row unchanged.
//   npx tsx bench/members-csv.ts [--rows 1000000] [--out /tmp/members.csv]
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
};

const rows = Number(arg('rows', '1000000'));
const out = arg('out', '/tmp/members.csv');
const family = ['김', '이', '박', '최', '정', '강', '조', '윤', '장', '임'];
const given = ['민준', '서연', '도윤', '하은', '시우', '지우', '주원', '예준', '지민', '하늘'];

const line = (i: number): string => {
  const id = `M-${String(i).padStart(7, '0')}`;
  const name =
    i % 97 === 0
      ? `"${family[i % 10]}${given[(i >> 3) % 10]}, Jr."`
      : `${family[i % 10]}${given[(i >> 3) % 10]}${i % 1000}`;
  const birthdate = `${1940 + (i % 70)}-${String((i % 12) + 1).padStart(2, '0')}-${String((i % 28) + 1).padStart(2, '0')}`;
  const email = i % 5 === 0 ? '' : `member${i}@portal.example`;
  const phone =
    i % 3 === 0
      ? ''
      : `010-${String(i % 10000).padStart(4, '0')}-${String((i * 7) % 10000).padStart(4, '0')}`;
  if (i % 1000 === 999) {
    const kind = ((i / 1000) % 4) | 0;
    if (kind === 0) return `${id},${name},${birthdate.slice(0, 4)}-02-31,${email},${phone}`;
    if (kind === 1) return `${id},${name},${birthdate},not-an-email,${phone}`;
    if (kind === 2) return `${id},${name},${birthdate},${email},12ab`;
    return `${id},,${birthdate},${email},${phone}`;
  }
  return `${id},${name},${birthdate},${email},${phone}`;
};

const stream = createWriteStream(out);
stream.write('legacy_id,name,birthdate,email,phone\n');
let chunk: string[] = [];
for (let i = 0; i < rows; i += 1) {
  chunk.push(line(i));
  if (chunk.length === 10_000 || i === rows - 1) {
    if (!stream.write(`${chunk.join('\n')}\n`)) await once(stream, 'drain');
    chunk = [];
  }
}
stream.end();
await once(stream, 'finish');
process.stdout.write(`${rows} rows -> ${out}\n`);
