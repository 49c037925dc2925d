// Federation, assembled: upstream identity providers (administration and sign-in through them)
// and agency account links. One fixed redirect URI per One-ID instance: ${ISSUER}/federation/callback.
import type { Knex } from 'knex';
import type { Config } from '../config/index.ts';
import type { AccountService } from '../accounts/index.ts';
import type { ClientService } from '../clients/index.ts';
import type { Clock, OutboundFetch, SecretBox } from '../shared/index.ts';
import type { ChangeFeed, KvStore } from '../store/index.ts';
import { createAgencyLinkService } from './agency-link-service.ts';
import { createFederationLoginService } from './federation-login-service.ts';
import { createUpstreamClient } from './upstream-client.ts';
import { createUpstreamService } from './upstream-service.ts';

type Deps = {
  knex: Knex;
  kv: KvStore;
  clock: Clock;
  secretBox: SecretBox;
  accounts: AccountService;
  clients: ClientService;
  issuer: string;
  /** FEDERATION_TIMEOUT_MS: deadline of each request to an upstream (discovery, token, JWKS, userinfo). */
  config: Pick<Config, 'federationTimeoutMs'>;
  /** Outgoing requests to upstreams (the SSRF guard with OUTBOUND_PRIVATE_HOSTS). */
  fetch?: OutboundFetch | undefined;
  log?: { warn: (obj: object, msg: string) => void } | undefined;
  /** Invalidates the login page's upstream list on every instance (Redis pub/sub). */
  feed?: ChangeFeed | undefined;
};

export const federationRedirectUri = (issuer: string) => `${issuer}/federation/callback`;

export const createFederationModule = ({
  knex,
  kv,
  clock,
  secretBox,
  accounts,
  clients,
  issuer,
  config,
  fetch,
  log,
  feed,
}: Deps) => {
  const upstreams = createUpstreamService({ knex, secretBox, feed });
  const client = createUpstreamClient({
    redirectUri: federationRedirectUri(issuer),
    timeoutMs: config.federationTimeoutMs,
    fetch,
  });
  const login = createFederationLoginService({ knex, kv, clock, accounts, upstreams, client, log });
  const agencyLinks = createAgencyLinkService({ knex, clients });
  return {
    upstreams,
    login,
    agencyLinks,
    redirectUri: client.redirectUri,
    /** What the engine calls (src/oidc/provider.ts): the sub index, member ids, linking after a sign-in. */
    engineHooks: {
      subjectIssued: agencyLinks.subjectIssued,
      memberId: agencyLinks.memberId,
      pendingLink: login.pendingLink,
      signedIn: (
        uid: string,
        result: { accountId: string; acr?: string | undefined; amr?: string[] | undefined },
        readAhead?: ReturnType<typeof login.pendingLink>,
      ) =>
        login.signedIn(uid, result, readAhead).then(
          () => undefined,
          (err: unknown) => log?.warn({ err }, 'linking an upstream identity after sign-in failed'),
        ),
    },
    /** My One-ID: linked upstream identities and agency links. */
    async overview(accountId: string) {
      const [identities, links] = await Promise.all([
        login.identities(accountId),
        agencyLinks.listForAccount(accountId),
      ]);
      return { identities, agencyLinks: links };
    },
  };
};

export type FederationModule = ReturnType<typeof createFederationModule>;
/** The federation hooks the OIDC engine calls. */
export type FederationEngineHooks = FederationModule['engineHooks'];
