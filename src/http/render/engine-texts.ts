// The engine's English error descriptions, each known one given a message key (locales/*.json).
import type { MessageKey, Translate } from './messages.ts';

/**
 * oidc-provider's error_description texts that reach a browser (the authorization and
 * end-session endpoints): the first pattern that matches names the key. Order matters: the
 * specific ones come first.
 */
const KNOWN: ReadonlyArray<readonly [RegExp, MessageKey]> = [
  [/^client is invalid/, 'engine.client_invalid'],
  [/^client_id metadata document/, 'engine.client_invalid'],
  [/redirect_uri did not match/, 'engine.redirect_uri_mismatch'],
  [/^post_logout_redirect_uri not registered/, 'engine.post_logout_redirect_uri'],
  [/^missing required parameters?/, 'engine.missing_parameter'],
  [/^requested response_type is not allowed/, 'engine.response_type'],
  [/^unsupported response_type/, 'engine.response_type'],
  [/^requested response_mode is not allowed/, 'engine.response_mode'],
  [/^requested scope is not allowed|^scope contains invalid/, 'engine.scope'],
  [/^openid scope must be requested/, 'engine.openid_scope'],
  [/id_token_hint/, 'engine.id_token_hint'],
  [/^(interaction )?session (id cookie )?not found|^session principal changed/, 'engine.session'],
  [/^unsupported prompt value|^prompt none must only be used alone/, 'engine.prompt'],
  [/code_challenge|code_verifier|PKCE/i, 'engine.pkce'],
  [/request object|request_uri/i, 'engine.request_object'],
  [/^invalid max_age/, 'engine.max_age'],
];

/** The key for an engine description, or undefined for one we have not written a text for. */
export const engineTextKey = (description: string | undefined): MessageKey | undefined =>
  description ? KNOWN.find(([pattern]) => pattern.test(description))?.[1] : undefined;

/**
 * An engine description in the page's language: ours when we have one, else the engine's own
 * English words, which the caller must mark lang="en" (`translated: false`).
 */
export const engineText = (t: Translate, description: string) => {
  const key = engineTextKey(description);
  return key ? { text: t(key), translated: true } : { text: description, translated: false };
};
