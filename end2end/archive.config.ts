// The archive test's own configuration (tools/dist-test.sh): the suite's browser settings, its
// own spec directory and server (LIAISON_ARCHIVE_URL), no oidc-provider.
import { defineConfig } from "@playwright/test";
import suite from "./playwright.config";

export default defineConfig({
  ...suite,
  testDir: "./archive",
  globalSetup: undefined,
  globalTeardown: undefined,
  outputDir: "test-results/archive",
  use: { ...suite.use, baseURL: process.env.LIAISON_ARCHIVE_URL ?? "http://127.0.0.1:3300" },
});
