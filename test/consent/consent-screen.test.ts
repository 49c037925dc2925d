// What the consent screen tells the citizen before they agree, in Korean and English: which system
// asks (its name, agency and logo), and for every item the catalogue's label, the purpose the
// client registered, whether it is required or optional, how long it is kept, and for an item held
// by another agency, which agency holds it. Client-supplied text is shown as text, never markup.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createBrowserSession, csrfFrom } from '../support/browser-session.ts';
import { enrolCitizen, registerClient } from '../support/flows.ts';
import { createFapiRp, registerFapiClient } from '../fapi/support.ts';

let app: TestApp;
let citizen: Awaited<ReturnType<typeof enrolCitizen>>;
// Allowed an agency-held item, the system is a fapi2 client (docs/fapi.md): pushed requests, DPoP.
let rp: Awaited<ReturnType<typeof createFapiRp>>;

const LOGO = 'https://welfare.example.go.kr/static/logo.png';

beforeAll(async () => {
  app = await startTestApp();
  // A claim another agency holds (served through its claims endpoint; not called here).
  const source = await registerClient(app, {
    redirect_uris: ['https://vehicles.example.go.kr/cb'],
    agency: '차량등록기관',
  });
  await app.services.catalogue.put(
    {
      name: 'vehicle_count',
      label: { ko: '보유 차량 수', en: 'Vehicles owned' },
      description: { ko: '등록된 차량 수', en: 'Number of registered vehicles' },
      sensitivity: 'medium',
      scopes: ['vehicle'],
      source: 'agency',
      sourceAgency: '차량등록기관',
      sourceEndpoint: 'https://vehicles.example.go.kr/claims',
      sourceJwksUri: 'https://vehicles.example.go.kr/jwks',
      sourceClientId: source.clientId,
      delivery: 'aggregated',
    },
    'test',
  );
  await app.reloadKeys();
  citizen = await enrolCitizen(app, {
    name: '윤서연',
    birthdate: '1991-02-03',
    email: 'seoyeon@example.com',
  });
  const client = await registerFapiClient(app, {
    client_name: '복지 <급여> & 신청',
    agency: '보건복지부',
    logo_uri: LOGO,
    allowed_claims: [
      {
        claim: 'name',
        purpose: { ko: '신청인 확인', en: 'Identifying the applicant' },
        required: true,
        retention_days: 365,
      },
      {
        claim: 'email',
        purpose: { ko: '결과 안내', en: 'Telling you the result' },
        required: false,
        retention_days: 90,
      },
      {
        claim: 'vehicle_count',
        purpose: { ko: '감면 자격 확인', en: 'Checking discount eligibility' },
        required: true,
        retention_days: 30,
      },
    ],
  });
  rp = await createFapiRp(app, client);
});
afterAll(() => app?.stop());

/** Signs in with the passkey and returns the consent page's HTML (nothing is decided). */
const consentPage = async (lang: 'ko' | 'en') => {
  const request = await rp.push({
    scope: 'openid profile email vehicle',
    ui_locales: lang,
  });
  const session = createBrowserSession();
  const login = await session.follow(request.url.toString(), app.issuer);
  const html = await login.res.text();
  const path = new URL(login.url).pathname;
  const post = (step: string, json: unknown) =>
    session.request(`${app.issuer}${path}/passkey/${step}`, {
      method: 'POST',
      json,
      headers: { 'x-csrf-token': csrfFrom(html) },
    });
  const verify = await post(
    'verify',
    citizen.authenticator.authenticate(await (await post('options', {})).json()),
  );
  expect(verify.status).toBe(200);
  const page = await session.follow(
    new URL((await verify.json()).location, app.issuer).toString(),
    app.issuer,
  );
  expect(page.res.status).toBe(200);
  return page.res.text();
};

/** The page's item blocks, by claim: their text with tags removed and whitespace collapsed. */
const itemsOf = (html: string) => {
  const blocks = html
    .split('<li class="consent-item">')
    .slice(1)
    .map((b) => b.slice(0, b.indexOf('</li>')));
  return new Map(
    blocks.map((b) => [
      /id="item-([a-z_]+)"/.exec(b)?.[1] ?? 'sub',
      {
        html: b,
        text: b
          .replace(/<[^>]+>/g, ' ')
          .replace(/\s+/g, ' ')
          .trim(),
      },
    ]),
  );
};

const EXPECTED = {
  ko: {
    intro:
      '복지 &lt;급여&gt; &amp; 신청(보건복지부)에 로그인하려면 아래 개인정보를 이 서비스에 제공하는 데 동의해 주세요.',
    items: {
      name: ['이름', '필수', '이용 목적 신청인 확인', '보유 기간 365일'],
      vehicle_count: [
        '보유 차량 수',
        '필수',
        '이용 목적 감면 자격 확인',
        '보유 기간 30일',
        '보유 기관 차량등록기관',
      ],
      email: ['이메일 주소', '선택', '이용 목적 결과 안내', '보유 기간 90일'],
    },
  },
  en: {
    intro:
      'To sign in to 복지 &lt;급여&gt; &amp; 신청 (보건복지부), please agree to share the personal data below with this service.',
    items: {
      name: ['Name', 'Required', 'Purpose Identifying the applicant', 'Kept for 365 days'],
      vehicle_count: [
        'Vehicles owned',
        'Required',
        'Purpose Checking discount eligibility',
        'Kept for 30 days',
        'Held by 차량등록기관',
      ],
      email: ['Email address', 'Optional', 'Purpose Telling you the result', 'Kept for 90 days'],
    },
  },
} as const;

describe.each(['ko', 'en'] as const)('the consent screen (%s)', (lang) => {
  it("names the system, its agency and logo, and states each item's label, purpose, necessity, retention and source", async () => {
    const html = await consentPage(lang);
    expect(html).toContain(`<html lang="${lang}">`);
    expect(html).toContain(EXPECTED[lang].intro);
    expect(html).not.toContain('<급여>');
    expect(html).toContain(`<img class="logo" src="${LOGO}"`);
    expect(html).toContain('윤서연');

    const items = itemsOf(html);
    // Required items first (name first), then optional ones; the member number (the pairwise
    // identifier) last, always shared.
    expect([...items.keys()]).toEqual(['name', 'vehicle_count', 'email', 'sub']);
    for (const [claim, facts] of Object.entries(EXPECTED[lang].items)) {
      const item = items.get(claim)!;
      for (const fact of facts) expect(item.text, `${claim}: ${fact}`).toContain(fact);
    }
    // Only the optional item has a checkbox (unchecked); required ones have none.
    expect(items.get('email')!.html).toMatch(
      /<input type="checkbox" name="claims" value="email" id="item-email"(?![^>]*checked)/,
    );
    expect(items.get('name')!.html).not.toContain('type="checkbox"');
    expect(items.get('vehicle_count')!.html).not.toContain('type="checkbox"');
    // Items One-ID holds itself name no source agency.
    expect(items.get('name')!.text).not.toContain(lang === 'ko' ? '보유 기관' : 'Held by');
    expect(items.get('email')!.text).not.toContain(lang === 'ko' ? '보유 기관' : 'Held by');
  });
});
