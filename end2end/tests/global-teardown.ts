import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";

// Stops the oidc-provider global-setup.ts started.
export default async function globalTeardown() {
  const file = join(tmpdir(), "liaison-e2e-provider.pid");
  try {
    process.kill(Number(readFileSync(file, "utf8")), "SIGTERM");
  } catch {
    // already gone
  }
  rmSync(file, { force: true });
}
