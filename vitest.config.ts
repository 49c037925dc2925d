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
    // Files in a worker share its module cache instead of importing the app again for each one
    // (import was a third of the run's time). Every file starts its own app on its own port and
    // database, and stops it; nothing here relies on a fresh module graph.
    isolate: false,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
