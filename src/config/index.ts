export { loadConfig, ConfigError, CONFIG_KEYS } from './config.ts';
export type { CertificateConfig, Config } from './config.ts';
export type { HostPort, MetricsConfig, RedisSettings } from './config.ts';
