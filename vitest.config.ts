import { defineConfig } from 'vitest/config';

// Integration tests start real servers, PostgreSQL/PGlite and Chromium: keep the
// worker count at the machine's two cores and give network tests room.
export default defineConfig({
  test: {
    globalSetup: ['test/support/global-setup.ts'],
    include: [
      'src/**/*.test.ts',
      'test/**/*.test.ts',
      'examples/**/*.test.ts',
      'scratch/**/*.test.ts',
    ],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
