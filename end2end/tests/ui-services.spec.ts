import type { Page } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";
import { guideShot, approveInPopup, closes, expectConsoleError, hydrated, provider, signIn, expect, test } from "./helpers";

// The Custom Services tab of Pick Your Service: each of the organisation's custom services with
// Edit and Delete. Runs after ui-flows.spec.ts and ui-people.spec.ts: "Acme ID" (id 1) is used by
// "Acme CRM EU", which is Connected.
test.describe.configure({ mode: "serial" });

// The pictures of docs/user-guide.md.
const shot = guideShot;

function row(page: Page, name: string) {
  return page.getByRole("row").filter({ has: page.getByRole("rowheader", { name }) });
}

test("the Custom Services tab: delete refused while in use, edit says which connections need a new authorisation", async ({ page }, testInfo) => {
  // The refused delete answers 409 and the edit without its secret 422, which the browser logs.
  expectConsoleError(testInfo, /\/rpc\/delete_service: .*status of 409/);
  expectConsoleError(testInfo, /\/rpc\/update_service: .*status of 422/);
  await signIn(page);
  await page.goto("/settings/developer-space/connections/new");
  await hydrated(page);
  await page.getByRole("tab", { name: "Custom Services" }).click();
  await expect(page.getByRole("link", { name: /^Acme ID/ })).toBeVisible();

  // Delete asks, and the server's reason comes back: connections use it.
  await page.getByRole("button", { name: "Delete Acme ID" }).click();
  const del = page.getByRole("dialog", { name: "Delete “Acme ID”?" });
  await expect(del.getByRole("button", { name: "Cancel" })).toBeFocused();
  await del.getByRole("button", { name: "Yes, Delete" }).click();
  await expect(page.getByText("Connections still use this service.")).toBeVisible();
  await expect(page.getByRole("link", { name: /^Acme ID/ })).toBeVisible();

  // A rename costs nothing: saved at once, no warning.
  await page.getByRole("button", { name: "Edit Acme ID" }).click();
  let edit = page.getByRole("dialog", { name: "Edit “Acme ID”" });
  await expect(edit.getByLabel("Service name")).toHaveValue("Acme ID");
  await expect(edit.getByText(/oauth\/callback\/s-/)).toBeVisible();
  // In light and in dark (the browser's preference, emulated).
  for (const colorScheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme });
    const axe = await new AxeBuilder({ page }).include("#dialog-edit-service").analyze();
    expect(axe.violations.map((v) => `${colorScheme}: ${v.id} ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`)).toEqual([]);
  }
  await page.emulateMedia({ colorScheme: "light" });
  await edit.getByLabel("Service name").fill("Acme Identity");
  await edit.getByRole("button", { name: "Update" }).click();
  await expect(edit).toBeHidden();
  await expect(page.getByText("“Acme Identity” is updated.")).toBeVisible();
  await expect(page.getByRole("link", { name: /^Acme Identity/ })).toBeVisible();

  // A moved endpoint (one more API base URL): before it saves, the dialog names the connections
  // that will need a new authorisation; the secret must be entered again.
  await page.getByRole("button", { name: "Edit Acme Identity" }).click();
  edit = page.getByRole("dialog", { name: "Edit “Acme Identity”" });
  await edit.getByLabel("Service name").fill("Acme ID");
  await edit.getByLabel("API base URL(s)").fill(`${provider.issuer}\n${provider.issuer}/extra`);
  await edit.getByRole("button", { name: "Update" }).click();
  const warning = edit.getByRole("alert").filter({ hasText: "will need a new authorisation" });
  await expect(warning).toContainText("Acme CRM EU");
  await shot(page, "edit-service-warning");
  await edit.getByRole("button", { name: "Yes, Update" }).click();
  await expect(edit.getByLabel("Client secret")).toHaveAttribute("aria-invalid", "true");
  await edit.getByLabel("Client secret").fill(provider.clientSecret);
  await edit.getByRole("button", { name: "Update" }).click();
  await expect(warning).toContainText("Acme CRM EU");
  await edit.getByRole("button", { name: "Yes, Update" }).click();
  await expect(edit).toBeHidden();
  await expect(page.getByText("“Acme ID” is updated.")).toBeVisible();

  // As said: the connection needs a new authorisation, and gets it.
  await page.goto("/settings/developer-space/connections");
  await hydrated(page);
  const r = row(page, "Acme CRM EU");
  await expect(r).toContainText("Needs re-authorisation");
  await r.hover();
  const popupOpened = page.waitForEvent("popup");
  await r.getByRole("button", { name: "Connect Acme CRM EU" }).click();
  const popup = await popupOpened;
  await approveInPopup(popup);
  await closes(popup);
  await expect(r).toContainText("Connected");
});
