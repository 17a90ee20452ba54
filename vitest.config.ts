import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'bots/**/*.test.ts'],
    pool: 'forks',
    // Test files share a worker's module graph (each still boots its own app on its own database): imports once per worker.
    isolate: false,
    // Embedded mode: one migrated PGlite image for the run, each file's database starts from it.
    globalSetup: ['test/helpers/pglite-image.ts'],
    // Two cores: two test files at a time, each on its own fresh database.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
