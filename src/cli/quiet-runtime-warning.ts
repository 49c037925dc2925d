// Imported first by the CLI: oidc-provider warns on stderr about any Node.js but its LTS lines
// when it loads (the registration check and the FAPI rules load it). The CLI answers on stderr
// only with its own problems, and package.json supports Node 20 for trials; production runs 22.
const warn = console.warn.bind(console);
console.warn = (...args: unknown[]) => {
  if (typeof args[0] === 'string' && args[0].includes('oidc-provider WARNING: Unsupported runtime'))
    return;
  warn(...args);
};
