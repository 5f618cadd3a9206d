import type { Page } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";
import { hydrated, signIn, expect, test } from "./helpers";

// The details page shows what a person looks for there: the connection's recent calls (failures
// told in words, not by colour alone), its metadata as a script set it, and its actions beside
// Reconnect, with the list's dialogs.
// Runs after ui-flows.spec.ts: "Acme CRM EU" (acme_crm) is Connected, its API at the provider.
test.describe.configure({ mode: "serial" });

const shot = (page: Page, name: string) => page.screenshot({ path: `test-results/screens/${name}.png`, fullPage: true });

test("the details page lists the connection's recent calls and offers its actions", async ({ page }) => {
  await signIn(page);
  const token = await page.evaluate(async () => {
    const r = await fetch("/rpc/create_api_token", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: "Details probe", expires_in_days: 7 }),
    });
    return (await r.json()).token as string;
  });
  const call = (path: string) =>
    page.request.get(`/api/v1/connections/acme_crm/proxy/${path}`, { headers: { Authorization: `Bearer ${token}` } });
  expect((await call("me")).status()).toBe(200);
  expect((await call("no/such/endpoint")).status()).toBe(404);
  const metadata = { account_id: "acct_12345", region: "eu-west" };
  const set = await page.request.put("/api/v1/connections/acme_crm/metadata", {
    headers: { Authorization: `Bearer ${token}` },
    data: metadata,
  });
  expect(set.status()).toBe(200);
  expect(await set.json()).toEqual(metadata);

  await page.goto("/settings/developer-space/connections/acme_crm");
  await hydrated(page);
  const calls = page.getByRole("table", { name: "Recent calls, newest first" });
  // The log is written in the background, within moments.
  await expect(async () => {
    await page.reload();
    await hydrated(page);
    await expect(calls.getByRole("row").filter({ hasText: "Details probe" })).toHaveCount(2, { timeout: 1000 });
  }).toPass();
  const failed = calls.getByRole("row").filter({ hasText: "404" });
  await expect(failed).toContainText("Failed");
  await expect(failed).toContainText("ada@acme.example (token Details probe)");
  await expect(failed).toContainText("GET");
  await expect(failed).toContainText("127.0.0.1");
  await expect(failed).toContainText(/\d+ ms/);
  const ok = calls.getByRole("row").filter({ hasText: "Details probe" }).filter({ hasText: "200" });
  await expect(ok).not.toContainText("Failed");
  const shown = page.getByTestId("metadata");
  await expect(shown).toContainText('"account_id": "acct_12345"');
  await expect(shown).toContainText('"region": "eu-west"');
  await shot(page, "details-calls");
  const axe = await new AxeBuilder({ page }).analyze();
  expect(axe.violations.map((v) => `${v.id} ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`)).toEqual([]);

  // Its actions beside Reconnect, through the list's own dialogs.
  await expect(page.getByRole("button", { name: "Reconnect", exact: true })).toBeVisible();
  await page.getByRole("button", { name: "Edit", exact: true }).click();
  const edit = page.getByRole("dialog", { name: "Edit “Acme CRM EU”" });
  await expect(edit.getByLabel("Connection Name")).toHaveValue("Acme CRM EU");
  await edit.getByRole("button", { name: "Cancel" }).click();
  await page.getByRole("button", { name: "Revoke", exact: true }).click();
  const revoke = page.getByRole("dialog", { name: "Revoke “Acme CRM EU”?" });
  await expect(revoke.getByRole("button", { name: "Cancel" })).toBeFocused();
  await revoke.getByRole("button", { name: "Cancel" }).click();
  await page.getByRole("button", { name: "Delete", exact: true }).click();
  const del = page.getByRole("dialog", { name: "Delete “Acme CRM EU”?" });
  await expect(del.getByRole("button", { name: "Yes, Delete" })).toBeVisible();
  await del.getByRole("button", { name: "Cancel" }).click();
  await expect(del).toBeHidden();
  await expect(page.locator(".facts .badge")).toHaveText("Connected");
});

test("deleting a connection from its details page goes back to the list, which says so", async ({ page }) => {
  await signIn(page);
  // "Acme Machines" (custom service 2, from ui-flows.spec.ts) connects at once.
  await page.goto("/settings/developer-space/connections/new/custom/2");
  await hydrated(page);
  await page.getByLabel("Connection Name").fill("Details Leaver");
  await page.getByLabel(/Read the API/).check();
  await page.getByRole("button", { name: "Create and Connect" }).click();
  await expect(page).toHaveURL(/\?authorised=details_leaver$/);

  await page.goto("/settings/developer-space/connections/details_leaver");
  await hydrated(page);
  await page.getByRole("button", { name: "Delete", exact: true }).click();
  await page.getByRole("dialog", { name: "Delete “Details Leaver”?" }).getByRole("button", { name: "Yes, Delete" }).click();
  await expect(page).toHaveURL(/\/connections\?deleted=details_leaver$/);
  await expect(page.getByRole("heading", { name: "Connections", exact: true })).toBeVisible();
  await expect(page.getByText("“details_leaver” is deleted.")).toBeVisible();
  await expect(page.getByText(/no such connection/i)).toHaveCount(0);
  await expect(page.getByRole("rowheader", { name: "Details Leaver" })).toHaveCount(0);
});
