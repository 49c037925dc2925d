// Cookie names. With an https issuer, a cookie valid for the whole site carries the `__Host-`
// prefix (RFC 6265bis 4.1.3.2): browsers then accept it only Secure, with Path=/ and no Domain,
// so a sibling subdomain can neither plant nor overwrite it. (Cookies scoped to a path, like
// the engine's interaction cookie, cannot carry it.)
export const hostCookie = (name: string, https: boolean) => (https ? `__Host-${name}` : name);
