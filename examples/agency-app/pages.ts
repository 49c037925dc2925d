// The agency app's pages: plain HTML, every value escaped.
import type { Session } from './sessions.ts';

const escape = (value: unknown) =>
  String(typeof value === 'string' ? value : JSON.stringify(value)).replace(
    /[&<>"']/g,
    (c) => `&#${c.charCodeAt(0)};`,
  );

const layout = (title: string, body: string) => `<!doctype html>
<html lang="ko">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escape(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem;line-height:1.5}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}code{word-break:break-all}</style>
</head>
<body>
<h1>${escape(title)}</h1>
${body}
</body>
</html>`;

const claimsTable = (id: string, claims: Record<string, unknown>) => `<table id="${id}">
<tr><th>claim</th><th>value</th></tr>
${Object.entries(claims)
  .map(
    ([name, value]) =>
      `<tr><td><code>${escape(name)}</code></td><td data-claim="${escape(name)}">${escape(value)}</td></tr>`,
  )
  .join('\n')}
</table>`;

export const homePage = (session: Session | undefined, notice?: string) => {
  const user = session?.user;
  if (!user) {
    return layout(
      '민원 포털 (Agency demo)',
      `${notice ? `<p id="notice" role="status">${escape(notice)}</p>` : ''}
<p>로그인하지 않았습니다. / You are not signed in.</p>
<p><a id="login" href="/login">One-ID로 로그인 / Sign in with One-ID</a></p>`,
    );
  }
  return layout(
    '민원 포털 (Agency demo)',
    `<p id="signed-in">로그인됨 / Signed in: <strong id="name">${escape(user.userinfo.name ?? user.sub)}</strong></p>
<h2>ID 토큰 / ID token claims</h2>
${claimsTable('id-token-claims', user.idTokenClaims)}
<h2>사용자 정보 / Userinfo (the items the citizen agreed to share)</h2>
${claimsTable('userinfo-claims', user.userinfo)}
<form method="post" action="/logout"><input type="hidden" name="_csrf" value="${escape(session.csrf)}"><button type="submit" id="logout">로그아웃 / Sign out</button></form>`,
  );
};

export const errorPage = (status: number, error: string, description?: string) =>
  layout(
    '오류 / Error',
    `<p id="error" data-status="${status}"><code>${escape(error)}</code>${description ? `: ${escape(description)}` : ''}</p>
<p><a href="/">처음으로 / Home</a></p>`,
  );
