export { loadConfig, ConfigError, CONFIG_KEYS } from './config.ts';
export type {
  AdminConfig,
  CertificateConfig,
  Config,
  RateLimitConfig,
  SiteConfig,
} from './config.ts';
export type { BackchannelConfig, HostPort, MetricsConfig, RedisSettings } from './config.ts';
