// What My One-ID shows a citizen: the agency systems they use, what each received under which
// consent, and their recent sign-in activity. Labels come from the claims catalogue only.
import type { AuditService } from '../audit/index.ts';
import type { ClientService } from '../clients/index.ts';
import type { CatalogueService } from './catalogue-service.ts';
import type { ConsentService } from './consent-service.ts';

export const createMyDataService = ({
  consent,
  clients,
  catalogue,
  audit,
}: {
  consent: ConsentService;
  clients: ClientService;
  catalogue: CatalogueService;
  audit: AuditService;
}) => ({
  async overview(accountId: string) {
    const [consents, signIns, items, activity] = await Promise.all([
      consent.listForAccount(accountId),
      consent.signIns(accountId),
      catalogue.list(),
      // Consent events are about the consent (subject consent:<id>): done by the citizen, or by
      // the system when one expires.
      consent.consentIds(accountId).then((ids) =>
        audit.list({
          involving: `account:${accountId}`,
          alsoAbout: ids.map((id) => `consent:${id}`),
          limit: 10,
        }),
      ),
    ]);
    const labels = new Map(items.map((i) => [i.name, i]));
    const clientIds = [
      ...new Set([...consents.map((c) => c.clientId), ...signIns.map((s) => s.clientId)]),
    ];
    const records = new Map(
      (await Promise.all(clientIds.map((id) => clients.find(id))))
        .filter((c) => c !== undefined)
        .map((c) => [c.clientId, c]),
    );
    const nameOf = (clientId: string) => ({
      name: String(records.get(clientId)?.metadata.client_name ?? clientId),
      agency: records.get(clientId)?.agency ?? '',
    });
    return {
      systems: signIns.map((s) => ({
        clientId: s.clientId,
        ...nameOf(s.clientId),
        firstAt: s.firstAt,
        lastAt: s.lastAt,
        count: s.count,
      })),
      consents: consents.map((c) => ({
        id: c.id,
        clientId: c.clientId,
        ...nameOf(c.clientId),
        grantedAt: c.grantedAt,
        expiresAt: c.expiresAt,
        items: c.grantedClaims.map((claim) => ({
          claim,
          label: labels.get(claim)?.label ?? { ko: claim, en: claim },
          sourceAgency: labels.get(claim)?.sourceAgency,
          purpose: c.purposes[claim],
        })),
      })),
      activity: activity
        .filter((a) => /^(auth|consent|sessions)\./.test(a.action))
        .map((a) => ({
          action: a.action,
          at: a.occurredAt,
          // The system it happened at, when the record names one (sign-ins, consents, sign-outs).
          clientId: typeof a.details.clientId === 'string' ? a.details.clientId : undefined,
        })),
    };
  },
});

export type MyDataService = ReturnType<typeof createMyDataService>;
