import { admin, expectConsoleError, hydrated, signIn, expect, test } from "./helpers";

// One fresh server (empty data directory) for this file: setup → sign out → sign in.
test.describe.configure({ mode: "serial" });

test("a fresh server opens on the setup page, which checks its fields", async ({ page }, testInfo) => {
  // The refused setup answers 422, which the browser logs.
  expectConsoleError(testInfo, /\/rpc\/setup: .*status of 422/);
  const wasm = page.waitForResponse((r) => new URL(r.url()).pathname === "/pkg/liaison.wasm");
  await page.goto("/");
  await expect(page).toHaveURL(/\/setup$/);
  await expect(page.getByRole("heading", { name: "Welcome to Liaison" })).toBeVisible();
  await hydrated(page);
  // The tab's icon is in the page: the browser asks for no /favicon.ico (a 404 in the console).
  await expect(page.locator('link[rel="icon"]')).toHaveAttribute("href", /^data:image\/svg\+xml,/);

  // The wasm comes precompressed (cargo leptos --precompress): brotli, a fraction of its size.
  const res = await wasm;
  expect(res.headers()["content-encoding"]).toBe("br");
  const onTheWire = (await res.request().sizes()).responseBodySize;
  const decoded = (await res.body()).length;
  expect(onTheWire).toBeGreaterThan(0);
  expect(onTheWire).toBeLessThan(decoded / 2);

  await page.getByLabel("Organisation name").fill(admin.org);
  await page.getByLabel("Your name").fill(admin.name);
  await page.getByLabel("Email").fill("not-an-email");
  await page.getByLabel("Password", { exact: true }).fill("short");
  await page.getByLabel("Confirm password").fill("short");
  await page.getByRole("button", { name: "Create organisation" }).click();

  await expect(page.getByText("Enter an email address like name@example.com.")).toBeVisible();
  await expect(page.getByText("Use at least 12 characters.")).toBeVisible();
  await expect(page.getByLabel("Email")).toHaveAttribute("aria-invalid", "true");
  await expect(page).toHaveURL(/\/setup$/);
  await page.screenshot({ path: "test-results/screens/setup-errors.png", fullPage: true });
});

test("setup creates the first admin and lands on Connections; tabs switch without a page load", async ({ page }) => {
  await page.goto("/setup");
  await hydrated(page);
  await page.getByLabel("Organisation name").fill(admin.org);
  await page.getByLabel("Your name").fill(admin.name);
  await page.getByLabel("Email").fill(admin.email);
  await page.getByLabel("Password", { exact: true }).fill(admin.password);
  await page.getByLabel("Confirm password").fill(admin.password);
  await page.getByRole("button", { name: "Create organisation" }).click();

  await expect(page).toHaveURL(/\/settings\/developer-space\/connections$/);
  await expect(page.getByRole("heading", { name: "Connections", level: 1 })).toBeVisible();
  await expect(page.getByText(admin.org)).toBeVisible();
  await expect(page.getByRole("link", { name: "+ New Connection" })).toBeVisible();

  const mine = page.getByRole("tab", { name: "My Connections" });
  const internal = page.getByRole("tab", { name: "Internal Connections" });
  await expect(mine).toHaveAttribute("aria-selected", "true");
  await expect(page.getByText("No connections yet")).toBeVisible();
  await hydrated(page);

  // A marker on window survives only if the tab switch happens in the page, without a load.
  await page.evaluate(() => ((window as any).__sameDocument = true));
  await internal.click();
  await expect(internal).toHaveAttribute("aria-selected", "true");
  await expect(page.getByText("No internal connections")).toBeVisible();
  await expect(page.getByText("No connections yet")).toBeHidden();
  expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true);

  // Keyboard: arrow keys move between tabs.
  await internal.focus();
  await page.keyboard.press("ArrowLeft");
  await expect(mine).toHaveAttribute("aria-selected", "true");
  await expect(mine).toBeFocused();
  await page.screenshot({ path: "test-results/screens/connections-empty.png", fullPage: true });

  // The setup page is closed for good.
  await page.goto("/setup");
  await expect(page).toHaveURL(/\/settings\/developer-space\/connections$/);
});

test("sign out, a wrong password gets a clear message, the right one signs in", async ({ page }, testInfo) => {
  // The refused sign-in answers 401, which the browser logs.
  expectConsoleError(testInfo, /\/rpc\/sign_in: .*status of 401/);
  // Sign in first (each test has its own browser context).
  await signIn(page);

  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login$/);
  await page.goto("/settings/developer-space/connections");
  await expect(page).toHaveURL(/\/login$/);
  await hydrated(page);

  await page.getByLabel("Email").fill(admin.email);
  await page.getByLabel("Password").fill("not the password at all");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "That email and password do not match an account" })).toBeVisible();
  await expect(page).toHaveURL(/\/login$/);
  await page.screenshot({ path: "test-results/screens/login-error.png", fullPage: true });

  await page.getByLabel("Password").fill(admin.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/settings\/developer-space\/connections$/);
  await expect(page.getByText(`${admin.name} · Admin`)).toBeVisible();
});
