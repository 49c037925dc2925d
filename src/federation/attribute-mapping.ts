// What One-ID takes from an upstream's claims: the configured mapping (One-ID attribute ->
// upstream claim), normalised the way accounts store them. Email and phone count only when the
// upstream says they are verified (`<claim>_verified: true`, OIDC Core 5.1).
export const ATTRIBUTES = ['name', 'birthdate', 'email', 'phone_number'] as const;
export type Attribute = (typeof ATTRIBUTES)[number];
export type Attributes = Partial<Record<Attribute, string>>;
export type ClaimMapping = Partial<Record<Attribute, string>>;

const VERIFIED: ReadonlySet<Attribute> = new Set(['email', 'phone_number']);

/** Digits only, and a Korean +82 number in its domestic form (+82 10-1234-5678 -> 01012345678), as accounts keep it. */
export const normalisePhone = (value: string): string => {
  const compact = value.replace(/[\s().-]/g, '');
  return compact.startsWith('+82') ? `0${compact.slice(3).replace(/^0/, '')}` : compact;
};

const isRealDate = (v: string) =>
  /^\d{4}-\d{2}-\d{2}$/.test(v) &&
  !Number.isNaN(Date.parse(`${v}T00:00:00Z`)) &&
  new Date(`${v}T00:00:00Z`).toISOString().startsWith(v);

const normalise = (attribute: Attribute, raw: string): string | undefined => {
  const value = raw.normalize('NFC').trim();
  if (!value || value.length > 320) return undefined;
  switch (attribute) {
    case 'name':
      return value.replace(/\s+/g, ' ');
    case 'birthdate':
      return isRealDate(value) ? value : undefined;
    case 'email':
      return /^[^\s@]+@[^\s@]+$/.test(value) ? value.toLowerCase() : undefined;
    case 'phone_number': {
      const phone = normalisePhone(value);
      return /^\+?\d{8,15}$/.test(phone) ? phone : undefined;
    }
  }
};

export const mapAttributes = (
  claims: Record<string, unknown>,
  mapping: ClaimMapping,
): Attributes => {
  const result: Attributes = {};
  for (const attribute of ATTRIBUTES) {
    const claim = mapping[attribute];
    const raw = claim ? claims[claim] : undefined;
    if (typeof raw !== 'string') continue;
    if (VERIFIED.has(attribute) && claims[`${claim}_verified`] !== true) continue;
    const value = normalise(attribute, raw);
    if (value) result[attribute] = value;
  }
  return result;
};

/** True when every attribute of the rule is present (a rule that cannot be evaluated never matches). */
export const canMatch = (attributes: Attributes, rule: readonly Attribute[]): boolean =>
  rule.length > 0 && rule.every((a) => attributes[a] !== undefined);
