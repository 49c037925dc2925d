// The registry's English problems in the console's language: known kinds translated with the
// field's label (a list entry by its line), unknown kinds keep their English text.
import { describe, expect, it } from 'vitest';
import { LOCALE_FILES, translator } from '../../render/messages.ts';
import { translateProblem } from './problem-texts.ts';

const ko = translator('ko');
const en = translator('en');

describe('translateProblem', () => {
  it('translates a known kind with the label, without the label hint', () => {
    expect(
      translateProblem({ field: 'redirect_uris.0', message: 'must be an absolute URL' }, ko),
    ).toEqual({
      field: 'redirect_uris.0',
      label: '리디렉션 URI 1번째 줄',
      message: ko('admin.problem.url'),
    });
    expect(translateProblem({ field: 'redirect_uris.0', message: 'Invalid URL' }, en)).toEqual({
      field: 'redirect_uris.0',
      label: 'Redirect URIs, line 1',
      message: en('admin.problem.url'),
    });
  });

  it('carries what the message names: the unknown claims, the length', () => {
    const claim = translateProblem(
      { field: 'allowed_claims', message: 'unknown claim shoe_size' },
      ko,
    );
    expect(claim).toEqual({
      field: 'allowed_claims',
      message: '정보 항목 카탈로그에 없는 항목입니다: shoe_size',
    });
    expect(
      translateProblem(
        { field: 'client_name', message: 'Too big: expected string to have <=200 characters' },
        ko,
      ),
    ).toEqual({ field: 'client_name', label: '시스템 이름', message: '200자 이내로 적어 주세요.' });
  });

  it('keeps the English text of an unknown kind, and the field code where the form has no label', () => {
    const message = 'private_key_jwt needs jwks_uri or jwks';
    expect(translateProblem({ field: 'token_endpoint_auth_method', message }, ko)).toEqual({
      field: 'token_endpoint_auth_method',
      label: ko('admin.form.token_endpoint_auth_method'),
      message,
    });
    expect(translateProblem({ field: 'issuer', message: 'is required' }, ko)).toEqual({
      field: 'issuer',
      message: '반드시 적어야 합니다.',
    });
  });

  it('has every text in both languages', () => {
    const keys = (table: object) =>
      Object.keys(table).filter((k) => k.startsWith('admin.problem.'));
    expect(keys(LOCALE_FILES.admin.ko).sort()).toEqual(keys(LOCALE_FILES.admin.en).sort());
  });
});
