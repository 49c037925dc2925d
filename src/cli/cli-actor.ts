// Who ran a CLI command, as the audit trail records it: `cli:<os user>@<host>`. The CLI has no
// sign-in (the operator holds the database and the keys), so the account and the machine it ran
// under are what the trail can say about who acted.
import { hostname, userInfo } from 'node:os';

export type CliActorSource = {
  user: () => string;
  uid: () => number | undefined;
  host: () => string;
};

const osSource: CliActorSource = {
  user: () => userInfo().username,
  uid: () => process.getuid?.(),
  host: hostname,
};

const attempt = (read: () => string): string | undefined => {
  try {
    return read() || undefined;
  } catch {
    return undefined;
  }
};

/**
 * `cli:<os user>@<host>`. A uid with no name (userInfo throws, e.g. a container run under an
 * arbitrary uid) is recorded as `uid-<n>`; what cannot be read at all as `unknown`.
 */
export const cliActor = (source: CliActorSource = osSource): string => {
  const uid = attempt(() => String(source.uid() ?? ''));
  const user = attempt(source.user) ?? (uid ? `uid-${uid}` : 'unknown');
  return `cli:${user}@${attempt(source.host) ?? 'unknown'}`;
};
