// Structured JSON logs (pino). Known secret-bearing fields are redacted at the source.
import { pino, type Logger } from 'pino';

export const createLogger = (level: string, destination?: NodeJS.WritableStream): Logger =>
  pino(
    {
      level,
      base: { service: 'one-id' },
      redact: {
        paths: [
          '*.client_secret',
          '*.password',
          '*.token',
          '*.cookie',
          '*.authorization',
          'req.headers.cookie',
          'req.headers.authorization',
          '*.privateJwk',
          '*.d',
        ],
        censor: '[redacted]',
      },
    },
    destination as never,
  );
