import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { provider as op, liaisonBase } from "./helpers";

// cargo-leptos starts Liaison and the tests together: wait until it answers its health check.
// Then start the real authorization server the flows use (oidc-provider, as in the Rust
// integration tests) on a fixed port, with a client whose redirect URIs are those of the services the tests make.
export default async function globalSetup() {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const res = await fetch(`${liaisonBase}/healthz`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`Liaison did not become healthy at ${liaisonBase}`);
    await new Promise((r) => setTimeout(r, 200));
  }

  // Each custom service's redirect URL is registered by the test that makes it, as a person does:
  // copied from the Create New Service form to the provider (registerRedirect in helpers.ts). The
  // client needs one to exist: a URL no service has.
  const redirects = [`${liaisonBase}/oauth/callback/none-yet`];
  const clients = [
    {
      client_id: op.clientId,
      client_secret: op.clientSecret,
      redirect_uris: redirects,
      grant_types: ["authorization_code", "refresh_token", "client_credentials"],
      token_endpoint_auth_method: "client_secret_basic",
      scope: "openid profile email offline_access api:read api:write",
    },
  ];
  const child = spawn("node", [join(__dirname, "..", "fixtures", "oidc-provider.mjs")], {
    env: { ...process.env, PORT: String(op.port), CLIENTS_JSON: JSON.stringify(clients) },
    stdio: ["ignore", "pipe", "inherit"],
    detached: false,
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("oidc-provider did not start")), 30_000);
    child.stdout!.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("LISTENING")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on("exit", (code) => reject(new Error(`oidc-provider exited with ${code}`)));
  });
  writeFileSync(join(tmpdir(), "liaison-e2e-provider.pid"), String(child.pid));
  child.unref();
  (child.stdout as any)?.unref?.();
}
