// `npm run cli -- <group> <command> [--options]`: operator commands on the same database.
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/index.ts';
import { isAppError } from '../shared/index.ts';
import { createCliContext } from './cli-context.ts';
import { COMMANDS } from './commands.ts';

const OPTIONS = {
  name: { type: 'string' },
  birthdate: { type: 'string' },
  email: { type: 'string' },
  phone: { type: 'string' },
  file: { type: 'string' },
  client: { type: 'string' },
  account: { type: 'string' },
  id: { type: 'string' },
  after: { type: 'string' },
  limit: { type: 'string' },
  'older-than-days': { type: 'string' },
  role: { type: 'string' },
  agency: { type: 'string' },
  format: { type: 'string' },
  days: { type: 'string' },
  checkpoint: { type: 'string' },
  'save-checkpoint': { type: 'string' },
  'dry-run': { type: 'boolean' },
  'legacy-id': { type: 'string' },
  count: { type: 'string' },
  start: { type: 'string' },
  seed: { type: 'string' },
  'with-passkeys': { type: 'boolean' },
  'with-consents': { type: 'boolean' },
  rejects: { type: 'string' },
  restart: { type: 'boolean' },
  'cert-anchor': { type: 'string' },
  now: { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

const usage = () =>
  `Usage: npm run cli -- <command> [options]\n\nCommands:\n${Object.values(COMMANDS)
    .map((c) => `  ${c.usage}`)
    .join('\n')}\n`;

const main = async (argv: string[]) => {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: OPTIONS,
    });
  } catch (error) {
    process.stderr.write(`Error: ${(error as Error).message}\n\n${usage()}`);
    return 2;
  }
  const { positionals, values } = parsed;
  const name = positionals.slice(0, 2).join(' ');
  const command = COMMANDS[name];
  if (!command || values.help) {
    process.stdout.write(usage());
    return command || values.help ? 0 : 2;
  }
  const config = loadConfig(process.env);
  const options = values as Record<string, string | boolean | undefined>;
  const args = positionals.slice(2);
  command.check?.(config, options, args);
  const ctx = await createCliContext(config);
  try {
    process.stdout.write(`${await command.run(ctx, options, args)}\n`);
    return 0;
  } finally {
    await ctx.close();
  }
};

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    if (error instanceof ConfigError || isAppError(error))
      process.stderr.write(`Error: ${error.message}\n`);
    else process.stderr.write(`Error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(isAppError(error) && error.code === 'ERR_USAGE' ? 2 : 1);
  },
);
