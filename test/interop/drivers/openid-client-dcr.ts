// openid-client v6 (panva) registering itself (RFC 7591): dynamicClientRegistration() with an
// initial access token from `dcr issue-token`, then the same journey as openid-client-v6.ts.
import { randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import { expect } from 'vitest';
import { cliPrincipal } from '../../../src/admin/index.ts';
import { DEFAULT_ALLOWANCES } from '../../support/flows.ts';
import type { Driver } from '../harness.ts';
import { openidClientFlow } from './openid-client-v6.ts';

const AGENCY = '행정안전부 (동적 등록)';

export const openidClientDcr: Driver = {
  packageName: 'openid-client',
  displayName: 'openid-client, dynamically registered (RFC 7591)',
  clientAuth: 'client_secret_post',
  notes: [
    'The system registers itself: `oidc.dynamicClientRegistration(issuer, metadata, undefined, { initialAccessToken })` with a token from `npm run cli -- dcr issue-token --agency NAME` (One-ID started with `DCR_ENABLED=true`), and uses the configuration it returns (client_id and the issued secret, `client_secret_post`, its default) for the rest of the journey.',
    'Dynamic registration cannot allow personal data: after the registration an administrator allowed the data items (`PUT /admin/api/clients/{id}/allowances`, here the service call behind it); until then the system gets the pairwise `sub` only.',
  ],
  async start(env) {
    const { app } = env;
    // What `dcr issue-token` runs (src/cli/commands.ts), in process.
    await app.services.admin.admins.putAgency(cliPrincipal(), { name: AGENCY });
    const { token } = await app.services.admin.dcr.issueInitialToken(cliPrincipal(), {
      agency: AGENCY,
    });
    const redirectUri = `http://localhost:4${String(randomBytes(2).readUInt16BE() % 1000).padStart(3, '0')}/cb`;
    const client = { clientId: '', redirectUri };
    return openidClientFlow(env, client, async () => {
      const config = await oidc.dynamicClientRegistration(
        new URL(app.issuer),
        {
          client_name: '동적 등록 민원 시스템',
          redirect_uris: [redirectUri],
          post_logout_redirect_uris: [new URL('/', redirectUri).href],
          token_endpoint_auth_method: 'client_secret_post',
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
        },
        undefined,
        { initialAccessToken: token, execute: [oidc.allowInsecureRequests] },
      );
      client.clientId = config.clientMetadata().client_id;
      expect(await app.services.clients.find(client.clientId)).toMatchObject({
        agency: AGENCY,
        registeredVia: 'dcr',
        status: 'active',
      });
      // The administrator's review: the data items this system may ask for.
      await app.services.clients.setAllowances(client.clientId, DEFAULT_ALLOWANCES, 'test');
      return config;
    });
  },
};
