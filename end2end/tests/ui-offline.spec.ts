import type { Page } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";
import { expectConsoleError, hydrated, signIn, expect, test } from "./helpers";

// What a click does when the part of the page's code it needs cannot be fetched (the network is
// down, or the server was restarted with a new build): it says so, the page keeps working, and the
// next click, with the network back, works. Runs after ui-flows.spec.ts ("Acme Machines", id 2,
// connects at once with client credentials).
test.describe.configure({ mode: "serial" });

/** axe's checks of the page as it is, in light and in dark. */
async function accessible(page: Page) {
  for (const colorScheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme });
    const axe = await new AxeBuilder({ page }).analyze();
    expect(axe.violations.map((v) => `${colorScheme}: ${v.id} ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`)).toEqual([]);
  }
  await page.emulateMedia({ colorScheme: "light" });
}

function row(page: Page, name: string) {
  return page.getByRole("row").filter({ has: page.getByRole("rowheader", { name }) });
}

test("a chunk that cannot be fetched is told in words, and the next click works", async ({ page }, testInfo) => {
  // The aborted fetches are logged by the browser, and the chunk loader logs its failure.
  expectConsoleError(testInfo, /chunk_\d+\.wasm: .*net::ERR_FAILED/);
  expectConsoleError(testInfo, /Failed to fetch/);
  await signIn(page);
  await page.goto("/settings/developer-space/connections/new/custom/2");
  await hydrated(page);
  await page.getByLabel("Connection Name").fill("Offline Probe");
  await page.getByLabel(/Read the API/).check();
  await page.getByRole("button", { name: "Create and Connect" }).click();
  await expect(page).toHaveURL(/\?authorised=offline_probe$/);
  await page.reload();
  await hydrated(page);
  const r = row(page, "Offline Probe");
  await expect(r).toContainText("Connected");

  // The network fails for the page's code: Delete's code cannot come.
  await page.route("**/pkg/chunk_*.wasm", (route) => route.abort("failed"));
  await r.hover();
  await r.getByRole("button", { name: "Delete Offline Probe" }).click();
  await page.getByRole("dialog", { name: "Delete “Offline Probe”?" }).getByRole("button", { name: "Yes, Delete" }).click();
  await expect(page.getByText("Liaison could not be reached. Check your connection and try again.")).toBeVisible();
  await expect(r).toContainText("Connected");

  // Back: the same click works, in the same page.
  await page.unroute("**/pkg/chunk_*.wasm");
  await r.hover();
  await r.getByRole("button", { name: "Delete Offline Probe" }).click();
  await page.getByRole("dialog", { name: "Delete “Offline Probe”?" }).getByRole("button", { name: "Yes, Delete" }).click();
  await expect(page.getByText("“Offline Probe” is deleted.")).toBeVisible();
  await expect(row(page, "Offline Probe")).toHaveCount(0);
});

test("a page whose code cannot be fetched says so, and Try again loads it once the network is back", async ({ page }, testInfo) => {
  expectConsoleError(testInfo, /(split|chunk)_.*\.wasm: .*net::ERR_FAILED/);
  expectConsoleError(testInfo, /Failed to fetch/);
  await signIn(page);
  await page.goto("/settings/developer-space/connections");
  await hydrated(page);

  // The network fails for the pages' code: the API tokens page cannot come.
  const pageCode = /\/pkg\/(split|chunk)_[^/]*\.wasm$/;
  await page.route(pageCode, (route) => route.abort("failed"));
  await page.getByRole("link", { name: "API tokens" }).click();
  await expect(page.getByRole("heading", { name: "This page could not be loaded" })).toBeVisible();
  await expect(page.getByRole("alert")).toHaveText("Liaison could not be reached. Check your connection and try again.");
  await expect(page).toHaveURL(/\/api-tokens$/);
  await accessible(page);
  // The rest of the page still works: back to Connections, in place.
  await page.getByRole("link", { name: "Go to Connections" }).click();
  await expect(page.getByRole("heading", { name: "Connections", exact: true })).toBeVisible();

  // Back: the same link works in the same page, and so does Try again.
  await page.unroute(pageCode);
  await page.getByRole("link", { name: "API tokens" }).click();
  await expect(page.getByRole("heading", { name: "API tokens" })).toBeVisible();
  await page.route(pageCode, (route) => route.abort("failed"));
  await page.goto("/settings/developer-space/connections");
  await hydrated(page);
  await page.getByRole("link", { name: "Members" }).click();
  await expect(page.getByRole("heading", { name: "This page could not be loaded" })).toBeVisible();
  await page.unroute(pageCode);
  await page.getByRole("link", { name: "Try again" }).click();
  await hydrated(page);
  await expect(page.getByRole("heading", { name: "Members" })).toBeVisible();
});

test("a first visit whose page code cannot be fetched keeps the server's page and says so above it", async ({ page }, testInfo) => {
  expectConsoleError(testInfo, /(split|chunk)_.*\.wasm: .*net::ERR_FAILED/);
  expectConsoleError(testInfo, /Failed to fetch/);
  await signIn(page);
  const pageCode = /\/pkg\/(split|chunk)_[^/]*\.wasm$/;
  await page.route(pageCode, (route) => route.abort("failed"));
  await page.goto("/settings/developer-space/api-tokens");
  await hydrated(page);
  const banner = page.locator(".page-unreachable");
  await expect(banner).toHaveText(/^This page could not be loaded\. Liaison could not be reached\./);
  await expect(page.getByRole("heading", { name: "API tokens" })).toBeVisible();
  await accessible(page);
  // The rest of the page works: its links load their pages anew (a new document: the mark set
  // here is gone), and the list's code is in the main module.
  await page.evaluate(() => ((window as unknown as { held?: number }).held = 1));
  await page.getByRole("link", { name: "Connections", exact: true }).first().click();
  await expect(page.getByRole("heading", { name: "Connections", exact: true })).toBeVisible();
  await hydrated(page);
  expect(await page.evaluate(() => (window as unknown as { held?: number }).held)).toBeUndefined();
  await expect(banner).toHaveCount(0);

  await page.goto("/settings/developer-space/api-tokens");
  await hydrated(page);
  await page.unroute(pageCode);
  // Try again loads the page anew, and this time its code comes.
  const pageChunk = page.waitForResponse((r) => /\/pkg\/split_api_tokens_page\.wasm$/.test(r.url()) && r.ok());
  await banner.getByRole("link", { name: "Try again" }).click();
  await pageChunk;
  await expect(page.locator(".page-unreachable")).toHaveCount(0);
  await hydrated(page);
  await expect(page.getByRole("heading", { name: "API tokens" })).toBeVisible();
});

test("before a page is hydrated its forms cannot be sent, and would post rather than put their fields in the address", async ({
  page,
}) => {
  await signIn(page);
  // No code arrives (held, so nothing fails in the console): the server's pages stay as they are.
  const code = /\/pkg\/[^/]*\.wasm$/;
  await page.route(code, () => new Promise(() => {}));
  for (const path of [
    "/settings/developer-space/connections/new/custom/2", // an API key or a client secret
    "/settings/developer-space/services/new", // a client secret
    "/settings/developer-space/api-tokens",
  ]) {
    await page.goto(path, { waitUntil: "domcontentloaded" });
    const form = page.locator("form.form").first();
    await expect(form).toHaveAttribute("method", "post");
    await expect(form.locator('button[type="submit"]')).toBeDisabled();
    expect(await page.locator("body").getAttribute("data-hydrated")).toBeNull();
  }
  await page.unrouteAll({ behavior: "ignoreErrors" });
  await page.goto("/settings/developer-space/api-tokens");
  await hydrated(page);
  await expect(page.locator("form.form").first().locator('button[type="submit"]')).toBeEnabled();
});
