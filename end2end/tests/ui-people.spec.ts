import type { Page } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { admin, approveInPopup, closes, hydrated, signIn, expect, test } from "./helpers";

// Runs after ui-flows.spec.ts: the custom service "Acme ID" (id 1) and "Acme CRM EU" exist.
test.describe.configure({ mode: "serial" });

const member = { name: "Bob Member", email: "bob@acme.example", password: "another long passphrase 42" };

function row(page: Page, name: string) {
  return page.getByRole("row").filter({ has: page.getByRole("rowheader", { name }) });
}

/** Adds a member with the CLI, on the data directory the server under test uses. */
function addMember() {
  const bin = join(process.env.CARGO_TARGET_DIR ?? join(__dirname, "..", "..", "target"), "release", "liaison");
  const dir = mkdtempSync(join(tmpdir(), "liaison-e2e-"));
  const file = join(dir, "password");
  writeFileSync(file, member.password + "\n");
  execFileSync(
    bin,
    ["admin", "create", "--email", member.email, "--name", member.name, "--org", admin.org, "--role", "member", "--password-file", file],
    { env: { PATH: process.env.PATH ?? "", LIAISON_DATA_DIR: process.env.LIAISON_DATA_DIR ?? "data" }, stdio: "pipe" },
  );
}

test("a second person authorises a login-user connection with their own account", async ({ page, browser }) => {
  await signIn(page);
  await page.goto("/settings/developer-space/connections/new/custom/1");
  await hydrated(page);
  await page.getByLabel("Connection Name").fill("Team Inbox");
  await page.getByLabel(/Sign you in/).check();
  await page.getByLabel(/Read the API/).check();
  await page.getByLabel("Use credentials of login user").check();
  let popupOpened = page.waitForEvent("popup");
  await page.getByRole("button", { name: "Create and Connect" }).click();
  let popup = await popupOpened;
  await approveInPopup(popup, "alice");
  await closes(popup);
  await expect(row(page, "Team Inbox")).toContainText("Connected");

  addMember();
  const context = await browser.newContext();
  const bobPage = await context.newPage();
  await signIn(bobPage, member);
  const r = row(bobPage, "Team Inbox");
  // A member manages nothing they did not create: no edit, revoke or delete.
  await expect(r.getByRole("button", { name: "Edit Team Inbox" })).toHaveCount(0);
  await expect(r.getByRole("button", { name: "Delete Team Inbox" })).toHaveCount(0);
  await expect(row(bobPage, "Acme CRM EU").getByRole("button")).toHaveCount(0);
  await r.getByRole("link", { name: "Team Inbox" }).click();
  await expect(bobPage.getByText("Not authorised yet.")).toBeVisible();
  popupOpened = bobPage.waitForEvent("popup");
  await bobPage.getByRole("button", { name: "Connect my account" }).click();
  popup = await popupOpened;
  await approveInPopup(popup, "bob");
  await closes(popup);
  await expect(bobPage.getByText("“team_inbox” is connected.")).toBeVisible();
  await expect(bobPage.getByText(/^by bob@acme\.example on /)).toBeVisible();
  await expect(bobPage.getByText("Each person's own account (2 connected so far)")).toBeVisible();
  await bobPage.screenshot({ path: "test-results/screens/login-user-details.png", fullPage: true });
  await context.close();
});

test("a person who stays on the list for a minute after connecting sees nothing break", async ({ page }) => {
  // The page's timers run on Playwright's clock: a minute passes in a moment, every interval and
  // timeout the flow started fires, and the watch (helpers.ts) fails the test on any page error.
  await page.clock.install();
  await signIn(page);
  await page.goto("/settings/developer-space/connections/new/custom/1");
  await hydrated(page);
  await page.getByLabel("Connection Name").fill("Minute Watch");
  await page.getByLabel(/Sign you in/).check();
  const popupOpened = page.waitForEvent("popup");
  await page.getByRole("button", { name: "Create and Connect" }).click();
  const popup = await popupOpened;
  await approveInPopup(popup, "alice");
  await closes(popup);
  await expect(page).toHaveURL(/\/connections\?authorised=minute_watch$/);
  await expect(row(page, "Minute Watch")).toContainText("Connected");
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  for (let second = 0; second < 60; second += 5) await page.clock.runFor(5_000);
  expect(errors).toEqual([]);
  await expect(row(page, "Minute Watch")).toContainText("Connected");
  await expect(page.getByText("“minute_watch” is connected.")).toBeVisible();
});

// In light and in dark (the browser's preference, emulated): each page shows its scheme's palette.
for (const scheme of ["light", "dark"] as const)
test(`every page passes axe's accessibility checks in ${scheme} and runs under its nonce-based CSP`, async ({ page }) => {
  await page.emulateMedia({ colorScheme: scheme });
  const background = scheme === "dark" ? "rgb(17, 22, 29)" : "rgb(246, 247, 249)";
  // Any script, style or connection the Content-Security-Policy blocks shows up as a console error.
  const blocked: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy/i.test(m.text())) blocked.push(m.text());
  });
  await signIn(page);
  const pages = [
    "/settings/developer-space/connections",
    "/settings/developer-space/connections/new",
    "/settings/developer-space/connections/new/custom/1",
    "/settings/developer-space/services/new",
    "/settings/developer-space/connections/acme_crm",
    "/settings/developer-space/api-tokens",
  ];
  for (const path of pages) {
    await page.goto(path);
    await hydrated(page);
    await expect(page.locator("h1")).toBeVisible();
    expect(await page.locator("html").evaluate((el) => getComputedStyle(el).backgroundColor)).toBe(background);
    const result = await new AxeBuilder({ page }).analyze();
    expect(result.violations.map((v) => `${path}: ${v.id} ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`)).toEqual([]);
    const csp = (await page.request.get(path)).headers()["content-security-policy"];
    expect(csp).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9+/=_-]+' 'wasm-unsafe-eval';/);
    expect(csp).not.toContain("unsafe-inline");
  }
  expect(blocked).toEqual([]);
  // Signed out: the sign-in page.
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login$/);
  await hydrated(page);
  expect(await page.locator("html").evaluate((el) => getComputedStyle(el).backgroundColor)).toBe(background);
  const result = await new AxeBuilder({ page }).analyze();
  expect(result.violations.map((v) => `/login: ${v.id}`)).toEqual([]);
});

test("keyboard only: create a connection and delete it", async ({ page }) => {
  await signIn(page);
  const tabTo = async (name: string | RegExp, role: "link" | "button" | "tab" = "link") => {
    const target = page.getByRole(role, { name });
    for (let i = 0; i < 40; i++) {
      if (await target.evaluate((el) => el === document.activeElement).catch(() => false)) return;
      await page.keyboard.press("Tab");
    }
    throw new Error(`could not reach ${name} with Tab`);
  };
  await tabTo("+ New Connection");
  await page.keyboard.press("Enter");
  await expect(page.getByRole("heading", { name: "Pick Your Service" })).toBeVisible();
  // Tabs: only the selected tab is in the tab order; arrow keys move between tabs.
  await tabTo("Predefined Services", "tab");
  await page.keyboard.press("ArrowRight");
  await expect(page.getByRole("tab", { name: "Custom Services" })).toHaveAttribute("aria-selected", "true");
  await tabTo(/^Acme Machines/);
  await page.keyboard.press("Enter");
  await expect(page.getByRole("heading", { name: "New Acme Machines connection" })).toBeVisible();
  await page.getByLabel("Connection Name").focus();
  await page.keyboard.type("Keyboard Robot");
  await page.keyboard.press("Tab"); // link name
  await page.keyboard.press("Tab"); // first scope
  await page.keyboard.press("Space");
  await tabTo("Create and Connect", "button");
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\?authorised=keyboard_robot$/);
  const r = row(page, "Keyboard Robot");
  await expect(r).toContainText("Connected");

  // Row actions appear when focus reaches them; the dialog is driven by keys too.
  await tabTo("Delete Keyboard Robot", "button");
  await expect(r.locator(".row-actions")).toHaveCSS("opacity", "1");
  await page.keyboard.press("Enter");
  const dialog = page.getByRole("dialog", { name: "Delete “Keyboard Robot”?" });
  await expect(dialog.getByRole("button", { name: "Cancel" })).toBeFocused();
  await page.keyboard.press("Tab");
  await expect(dialog.getByRole("button", { name: "Yes, Delete" })).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(page.getByText("“Keyboard Robot” is deleted.")).toBeVisible();
  await expect(row(page, "Keyboard Robot")).toHaveCount(0);
});
