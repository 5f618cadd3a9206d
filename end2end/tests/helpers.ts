import { expect, type Page } from "@playwright/test";

export const liaisonBase = process.env.LIAISON_E2E_URL ?? "http://127.0.0.1:3000";

// The oidc-provider global-setup.ts starts for the flows.
export const provider = {
  port: 3100,
  issuer: "http://127.0.0.1:3100",
  clientId: "liaison-e2e",
  clientSecret: "e2e-client-secret-5d1f0c",
};

// The admin API token tools/test.sh gives the server (internal connections).
export const adminToken = process.env.LIAISON_ADMIN_TOKEN ?? "e2e-admin-token-0123456789abcdef0123";

// The admin foundation.spec.ts creates on the fresh server; later files sign in as them.
export const admin = {
  org: "Acme Robotics",
  name: "Ada Admin",
  email: "ada@acme.example",
  password: "correct horse battery staple",
};

export async function hydrated(page: Page) {
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
}

export async function signIn(page: Page, who = admin) {
  await page.goto("/login");
  await hydrated(page);
  await page.getByLabel("Email").fill(who.email);
  await page.getByLabel("Password").fill(who.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/settings\/developer-space\/connections$/);
  await hydrated(page);
}

/** Drives oidc-provider's own login and consent pages in the authorisation popup. */
export async function approveInPopup(popup: Page, login = "alice") {
  await popup.waitForURL((u) => u.port === String(provider.port) && u.pathname.startsWith("/interaction/"));
  const loginBox = popup.locator('input[name="login"]');
  const proceed = popup.getByRole("button", { name: "Continue" });
  await expect(loginBox.or(proceed)).toBeVisible();
  if (await loginBox.isVisible()) {
    await loginBox.fill(login);
    await popup.locator('input[name="password"]').fill("any password");
    await popup.getByRole("button", { name: "Sign-in" }).click();
  }
  await proceed.click();
}

/** The popup closed itself (it may already have). */
export async function closes(popup: Page) {
  await expect.poll(() => popup.isClosed(), { timeout: 10_000 }).toBe(true);
}
