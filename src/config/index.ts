export { loadConfig, ConfigError, CONFIG_KEYS } from './config.ts';
export type { Config } from './config.ts';
