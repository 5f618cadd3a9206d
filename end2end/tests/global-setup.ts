// cargo-leptos starts the server and the tests together: wait until it answers its health check.
export default async function globalSetup() {
  const base = process.env.LIAISON_E2E_URL ?? "http://127.0.0.1:3000";
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const res = await fetch(`${base}/healthz`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`Liaison did not become healthy at ${base}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
