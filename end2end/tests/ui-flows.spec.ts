import type { Page } from "@playwright/test";
import { guideShot, adminToken, approveInPopup, closes, expectConsoleError, hydrated, liaisonBase, provider, registerRedirect, signIn, expect, test } from "./helpers";

// The Connections screens of SPEC §2 end to end, against the real oidc-provider that
// global-setup.ts starts. Runs after foundation.spec.ts and tokens.spec.ts (the admin exists).
test.describe.configure({ mode: "serial" });

// The pictures of docs/user-guide.md.
const shot = guideShot;

/** Replaces the service form's scope rows with these (Scope Name, Scope Display Name) pairs. */
async function setScopes(page: Page, scopes: [string, string][]) {
  const remove = page.getByRole("button", { name: /^Remove (scope .+|this empty scope)$/ });
  while ((await remove.count()) > 0) await remove.first().click();
  for (const [name, display] of scopes) {
    await page.getByRole("button", { name: "Add scope" }).click();
    await page.getByLabel("Scope Name", { exact: true }).last().fill(name);
    await page.getByLabel("Scope Display Name", { exact: true }).last().fill(display);
  }
}

function row(page: Page, name: string) {
  return page.getByRole("row").filter({ has: page.getByRole("rowheader", { name }) });
}

test("a custom service from the provider's metadata, then its first connection through the popup", async ({ page, context }, testInfo) => {
  // The refused service answers 422, which the browser logs.
  expectConsoleError(testInfo, /\/rpc\/create_service: .*status of 422/);
  await context.grantPermissions(["clipboard-read", "clipboard-write"]);
  await signIn(page);
  await page.getByRole("link", { name: "+ New Connection" }).click();
  await expect(page.getByRole("heading", { name: "Pick Your Service" })).toBeVisible();
  // The catalogue, searchable.
  await expect(page.getByRole("link", { name: /^GitHub/ })).toBeVisible();
  await page.getByLabel("Search services").fill("slack");
  await expect(page.getByRole("link", { name: /^Slack/ })).toBeVisible();
  await expect(page.getByRole("link", { name: /^GitHub/ })).toHaveCount(0);
  await shot(page, "pick-service");

  await page.getByRole("tab", { name: "Custom Services" }).click();
  await page.getByLabel("Search services").fill("");
  await expect(page.getByText("Your organisation has no custom services yet.")).toBeVisible();
  await page.getByRole("link", { name: "+ Create New Service" }).click();
  await expect(page.getByRole("heading", { name: "Create New Service" })).toBeVisible();

  // The redirect URL to register with the provider comes first, before anything is typed: the
  // provider asks for it before it gives the client ID and secret.
  const redirect = page.getByTestId("redirect-url");
  await expect(redirect).toHaveText(new RegExp(`^${liaisonBase.replace(/[.]/g, "\\.")}/oauth/callback/s-[A-Za-z0-9_-]{22}$`));
  const redirectUrl = (await redirect.textContent())!;
  await page.getByRole("button", { name: "Copy redirect URL" }).click();
  await expect(page.getByRole("button", { name: "Copy redirect URL" })).toHaveText("Copied");
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(redirectUrl);
  await registerRedirect(await page.evaluate(() => navigator.clipboard.readText()));
  await shot(page, "new-service-redirect-url");

  await page.getByLabel("Issuer URL").fill(provider.issuer);
  await page.getByRole("button", { name: "Fill in" }).click();
  await expect(page.getByText("Filled in from the provider's metadata.")).toBeVisible();
  await expect(page.getByLabel("Access token URL")).toHaveValue(`${provider.issuer}/token`);

  // A bad field gets its message next to it, and nothing is saved.
  await page.getByLabel("Service name").fill("Acme ID");
  await page.getByLabel("Client ID").fill(provider.clientId);
  await page.getByLabel("Client secret").fill(provider.clientSecret);
  await page.getByLabel("API base URL(s)").fill("ftp://api.acme.example");
  // The scopes are rows of a Scope Name and a Scope Display Name: the metadata filled them in.
  await expect(page.getByLabel("Scope Name", { exact: true }).first()).toHaveValue("openid");
  await setScopes(page, [
    ["openid", "Sign you in"],
    ["api:read", "Read the API"],
    ["api write", "Change things"],
    ["offline_access", "Stay connected"],
  ]);
  await page.getByRole("button", { name: "Create Service" }).click();
  await expect(page.getByText("Some fields need a change")).toBeVisible();
  await expect(page.getByLabel("API base URL(s)")).toHaveAttribute("aria-invalid", "true");
  await expect(page.getByRole("group", { name: "Scopes" })).toContainText("“api write” is not a scope name");
  await shot(page, "custom-service-errors");

  await page.getByRole("button", { name: "Remove scope api write" }).click();
  await expect(page.getByLabel("Scope Name", { exact: true })).toHaveCount(3);
  await page.getByLabel("API base URL(s)").fill(provider.issuer);
  await page.getByRole("button", { name: "Create Service" }).click();
  await expect(page.getByRole("heading", { name: "New Acme ID connection" })).toBeVisible();
  await expect(page).toHaveURL(/\/connections\/new\/custom\/1$/);
  // The removed row is not offered.
  await expect(page.getByLabel(/Change things/)).toHaveCount(0);

  await page.getByLabel("Connection Name").fill("Acme CRM");
  await expect(page.getByLabel("Link name")).toHaveValue("acme_crm");
  await page.getByLabel(/Sign you in/).check();
  await page.getByLabel(/Read the API/).check();
  await page.getByLabel(/Stay connected/).check();
  await shot(page, "new-connection-form");
  const popupOpened = page.waitForEvent("popup");
  await page.getByRole("button", { name: "Create and Connect" }).click();
  const popup = await popupOpened;
  await approveInPopup(popup);
  await closes(popup);

  await expect(page).toHaveURL(/\/settings\/developer-space\/connections\?authorised=acme_crm$/);
  await expect(page.getByText("“acme_crm” is connected.")).toBeVisible();
  await expect(row(page, "Acme CRM")).toContainText("Connected");
  await shot(page, "connections-connected");
});

test("row actions appear on hover and on focus; the details page shows the grant and the code", async ({
  page,
  context,
}) => {
  await context.grantPermissions(["clipboard-read", "clipboard-write"]);
  await signIn(page);
  const r = row(page, "Acme CRM");
  const actions = r.locator(".row-actions");
  await expect(actions).toHaveCSS("opacity", "0");
  await r.hover();
  await expect(actions).toHaveCSS("opacity", "1");
  await page.mouse.move(0, 0);
  await expect(actions).toHaveCSS("opacity", "0");
  await r.getByRole("button", { name: "Edit Acme CRM" }).focus();
  await expect(actions).toHaveCSS("opacity", "1");
  // The icons are drawn (inline SVG), not characters of a font the machine may lack; the button
  // carries the name.
  for (const action of ["Edit", "Delete"]) {
    const button = r.getByRole("button", { name: `${action} Acme CRM` });
    await expect(button.locator("svg")).toBeVisible();
    await expect(button).toHaveText("");
    await expect(button).toHaveAttribute("title", action);
  }

  await r.getByRole("link", { name: "Acme CRM" }).click();
  await expect(page.getByRole("heading", { name: "Acme CRM", level: 1 })).toBeVisible();
  await expect(page.getByText(/^by ada@acme\.example on \d{4}-\d\d-\d\d \d\d:\d\d UTC$/)).toBeVisible();
  await expect(page.getByText(/The access token expires .* UTC; Liaison refreshes it before then\./)).toBeVisible();
  for (const lang of ["curl", "JavaScript", "Python", "Rust"]) {
    await page.getByRole("tab", { name: lang, exact: true }).click();
    await expect(page.getByTestId("snippet")).toContainText("/api/v1/connections/acme_crm/proxy/<path>");
  }
  await page.getByRole("tab", { name: "curl", exact: true }).click();
  await page.getByRole("button", { name: "Copy code" }).click();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toContain('curl -H "Authorization: Bearer $LIAISON_TOKEN"');
  await expect(page.getByText(/access_token|refresh_token/)).toHaveCount(0);
  await shot(page, "connection-details");
});

test("revoke asks first; enable runs the popup again", async ({ page }) => {
  await signIn(page);
  const r = row(page, "Acme CRM");
  await r.hover();
  await r.getByRole("button", { name: "Revoke Acme CRM" }).click();
  const dialog = page.getByRole("dialog", { name: "Revoke “Acme CRM”?" });
  await expect(dialog).toBeVisible();
  await page.keyboard.press("Escape");
  await expect(dialog).toBeHidden();
  await expect(r).toContainText("Connected");

  await r.hover();
  await r.getByRole("button", { name: "Revoke Acme CRM" }).click();
  await dialog.getByRole("button", { name: "Revoke" }).click();
  await expect(page.getByText("“Acme CRM” is revoked.")).toBeVisible();
  await expect(r).toContainText("Revoked");

  await r.hover();
  const popupOpened = page.waitForEvent("popup");
  await r.getByRole("button", { name: "Enable Acme CRM" }).click();
  const popup = await popupOpened;
  await approveInPopup(popup);
  await closes(popup);
  await expect(page.getByText("“acme_crm” is connected.")).toBeVisible();
  await expect(r).toContainText("Connected");
});

test("edit: changed scopes need a new authorisation, then connect", async ({ page }) => {
  await signIn(page);
  const r = row(page, "Acme CRM");
  await r.hover();
  await r.getByRole("button", { name: "Edit Acme CRM" }).click();
  const dialog = page.getByRole("dialog", { name: "Edit “Acme CRM”" });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByLabel(/Read the API/)).toBeChecked();
  await dialog.getByLabel("Connection Name").fill("Acme CRM EU");
  await dialog.getByLabel(/Read the API/).uncheck();
  await shot(page, "edit-dialog");
  await dialog.getByRole("button", { name: "Update" }).click();
  await expect(dialog).toBeHidden();
  const eu = row(page, "Acme CRM EU");
  await expect(eu).toContainText("Needs re-authorisation");
  await expect(eu).toContainText("acme_crm");

  await eu.hover();
  const popupOpened = page.waitForEvent("popup");
  await eu.getByRole("button", { name: "Connect Acme CRM EU" }).click();
  const popup = await popupOpened;
  await approveInPopup(popup);
  await closes(popup);
  await expect(eu).toContainText("Connected");
});

test("a rename pressed as soon as the dialog opens keeps the authorisation, every time", async ({ page }) => {
  await signIn(page);
  // The dialog's data arrives late (as on a slow link): Update must wait for it, never send
  // scopes it has not read yet.
  await page.route("**/rpc/connection", async (route) => {
    await new Promise((done) => setTimeout(done, 1500));
    await route.continue();
  });
  let name = "Acme CRM EU";
  for (const next of ["Acme CRM One", "Acme CRM Two", "Acme CRM EU"]) {
    const r = row(page, name);
    await expect(r).toContainText("Connected");
    await r.hover();
    await r.getByRole("button", { name: `Edit ${name}` }).click();
    const dialog = page.getByRole("dialog", { name: `Edit “${name}”` });
    await dialog.getByLabel("Connection Name").fill(next);
    await expect(dialog.getByRole("button", { name: "Update" })).toBeDisabled();
    await dialog.getByRole("button", { name: "Update" }).click();
    await expect(dialog).toBeHidden();
    await expect(page.getByText(`“${next}” is updated.`)).toBeVisible();
    await expect(row(page, next)).toContainText("Connected");
    name = next;
  }
  await page.unroute("**/rpc/connection");
  const r = row(page, name);
  await r.hover();
  await r.getByRole("button", { name: `Edit ${name}` }).click();
  const dialog = page.getByRole("dialog", { name: `Edit “${name}”` });
  // The scopes are the ones chosen in the edit before, untouched by the renames.
  await expect(dialog.getByLabel(/Read the API/)).not.toBeChecked();
  await expect(dialog.getByLabel(/Sign you in/)).toBeChecked();
  await dialog.getByRole("button", { name: "Cancel" }).click();
});

test("renames right after a token refresh keep the authorisation and the scopes", async ({ page }) => {
  await signIn(page);
  // A script's call after the access token expired at the provider (its clock moved two hours on):
  // the provider refuses it, Liaison refreshes the grant (the provider rotates the refresh token
  // and echoes the scopes) and calls again.
  const token = await page.evaluate(async () => {
    const r = await fetch("/rpc/create_api_token", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: "Refresh probe", expires_in_days: 7 }),
    });
    return (await r.json()).token as string;
  });
  const refreshes = async () => (await (await fetch(`${provider.issuer}/__test/counts`)).json()).token?.refresh_token?.ok ?? 0;
  const before = await refreshes();
  await fetch(`${provider.issuer}/__test/clock?advance_ms=${2 * 3600 * 1000}`);
  const res = await page.request.get("/api/v1/connections/acme_crm/proxy/me", { headers: { Authorization: `Bearer ${token}` } });
  expect(res.status(), await res.text()).toBe(200);
  expect(await refreshes()).toBe(before + 1);

  // Renamed three times, each pressed as soon as the dialog lets it.
  let name = "Acme CRM EU";
  for (const next of ["Acme CRM Refreshed", "Acme CRM Again", "Acme CRM EU"]) {
    const r = row(page, name);
    await r.hover();
    await r.getByRole("button", { name: `Edit ${name}` }).click();
    const dialog = page.getByRole("dialog", { name: `Edit “${name}”` });
    await dialog.getByLabel("Connection Name").fill(next);
    await dialog.getByRole("button", { name: "Update" }).click();
    await expect(dialog).toBeHidden();
    await expect(page.getByText(`“${next}” is updated.`)).toBeVisible();
    await expect(row(page, next)).toContainText("Connected");
    name = next;
  }
  await page.reload();
  await hydrated(page);
  await expect(row(page, name)).toContainText("Connected");
  const r = row(page, name);
  await r.hover();
  await r.getByRole("button", { name: `Edit ${name}` }).click();
  const dialog = page.getByRole("dialog", { name: `Edit “${name}”` });
  await expect(dialog.getByLabel(/Sign you in/)).toBeChecked();
  await expect(dialog.getByLabel(/Stay connected/)).toBeChecked();
  await expect(dialog.getByLabel(/Read the API/)).not.toBeChecked();
  await dialog.getByRole("button", { name: "Cancel" }).click();
  // And the call still goes through.
  const again = await page.request.get("/api/v1/connections/acme_crm/proxy/me", { headers: { Authorization: `Bearer ${token}` } });
  expect(again.status(), await again.text()).toBe(200);
});

test("access denied at the provider is told in words, and nothing is connected", async ({ page }, testInfo) => {
  // The callback page of a refused authorisation answers 400, which the browser logs.
  expectConsoleError(testInfo, /\/oauth\/callback\/[^:]*: .*status of 400/);
  await signIn(page);
  await page.goto("/settings/developer-space/connections/new/custom/1");
  await hydrated(page);
  await page.getByLabel("Connection Name").fill("Denied One");
  await page.getByLabel(/Sign you in/).check();
  await page.getByLabel(/Read the API/).check();
  const popupOpened = page.waitForEvent("popup");
  await page.getByRole("button", { name: "Create and Connect" }).click();
  const popup = await popupOpened;
  await popup.waitForURL((u) => u.port === String(provider.port));
  await popup.getByRole("link", { name: "[ Cancel ]" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "“denied_one” was not connected" })).toBeVisible();
  await shot(page, "access-denied");
  if (!popup.isClosed()) await popup.close();
  await page.goto("/settings/developer-space/connections");
  await expect(row(page, "Denied One")).not.toContainText("Connected");
});

test("a closed popup ends the wait with a message", async ({ page }) => {
  await signIn(page);
  const r = row(page, "Denied One");
  await r.hover();
  const popupOpened = page.waitForEvent("popup");
  await r.getByRole("button", { name: "Connect Denied One" }).click();
  const popup = await popupOpened;
  await popup.waitForURL((u) => u.port === String(provider.port));
  await popup.close();
  await expect(page.getByText("The authorisation window was closed before access was granted.")).toBeVisible();
});

test("a popup closed before it reached Liaison's start page ends the wait in words, with no failed request", async ({
  page,
  context,
}) => {
  await signIn(page);
  // The popup's way to /oauth/start is held, so the page waits on a flow that has not started (its
  // status answers "pending": a 404 there would be a console error, which fails the test).
  await context.route("**/oauth/start/**", () => new Promise(() => {}));
  const r = row(page, "Denied One");
  await r.hover();
  const popupOpened = page.waitForEvent("popup");
  await r.getByRole("button", { name: "Connect Denied One" }).click();
  const popup = await popupOpened;
  const polled = page.waitForResponse((res) => res.url().endsWith("/rpc/authorisation_status"));
  expect((await polled).status()).toBe(200);
  await popup.close();
  await expect(page.getByText("The authorisation window was closed before access was granted.")).toBeVisible();
  await context.unrouteAll({ behavior: "ignoreErrors" });
});

test("a blocked popup offers the same flow in the tab, which comes back to the list", async ({ page }) => {
  await page.addInitScript(() => {
    window.open = () => null;
  });
  await signIn(page);
  const r = row(page, "Denied One");
  await r.hover();
  await r.getByRole("button", { name: "Connect Denied One" }).click();
  const link = page.getByRole("link", { name: "Continue in this tab" });
  await expect(link).toBeVisible();
  await shot(page, "popup-blocked");
  await link.click();
  await approveInPopup(page);
  await expect(page).toHaveURL(/\/settings\/developer-space\/connections\?authorised=denied_one$/);
  await expect(row(page, "Denied One")).toContainText("Connected");
});

test("client credentials connect at once; search and the status filter narrow the list", async ({ page }) => {
  await signIn(page);
  await page.goto("/settings/developer-space/services/new");
  await hydrated(page);
  await page.getByLabel("Service name").fill("Acme Machines");
  await page.getByLabel("Grant type").selectOption("client_credentials");
  await page.getByLabel("Client ID").fill(provider.clientId);
  await page.getByLabel("Client secret").fill(provider.clientSecret);
  await page.getByLabel("Access token URL").fill(`${provider.issuer}/token`);
  await page.getByLabel("API base URL(s)").fill(provider.issuer);
  await setScopes(page, [["api:read", "Read the API"]]);
  await page.getByRole("button", { name: "Create Service" }).click();
  await expect(page.getByRole("heading", { name: "New Acme Machines connection" })).toBeVisible();
  await page.getByLabel("Connection Name").fill("Nightly Robot");
  await page.getByLabel(/Read the API/).check();
  await page.getByRole("button", { name: "Create and Connect" }).click();
  await expect(page).toHaveURL(/\?authorised=nightly_robot$/);
  await expect(row(page, "Nightly Robot")).toContainText("Connected");

  await page.getByLabel("Search connections").fill("robot");
  await expect(row(page, "Nightly Robot")).toBeVisible();
  await expect(row(page, "Acme CRM EU")).toHaveCount(0);
  await page.getByLabel("Search connections").fill("");
  await page.getByLabel("Status").selectOption("revoked");
  await expect(page.getByText("No matching connections")).toBeVisible();
  await page.getByLabel("Status").selectOption("connected");
  await expect(row(page, "Acme CRM EU")).toBeVisible();
});

test("internal connections are listed apart, without edit or delete", async ({ page, request }) => {
  const created = await request.post("/api/admin/v1/organisations/1/connections", {
    headers: { Authorization: `Bearer ${adminToken}` },
    data: { name: "Billing Sync", link_name: "billing_sync", service: { kind: "custom", id: 2 }, scopes: ["api:read"] },
  });
  expect(created.status(), await created.text()).toBe(201);
  await signIn(page);
  await expect(row(page, "Billing Sync")).toHaveCount(0);
  await page.getByRole("tab", { name: "Internal Connections" }).click();
  const r = row(page, "Billing Sync");
  await expect(r).toContainText("Managed by its integration");
  await expect(r.getByRole("button")).toHaveCount(0);
  await shot(page, "internal-connections");
});

test("delete asks “Yes, Delete” and the connection is gone", async ({ page }) => {
  await signIn(page);
  const r = row(page, "Nightly Robot");
  await r.hover();
  await r.getByRole("button", { name: "Delete Nightly Robot" }).click();
  const dialog = page.getByRole("dialog", { name: "Delete “Nightly Robot”?" });
  await expect(dialog.getByRole("button", { name: "Cancel" })).toBeFocused();
  await shot(page, "delete-dialog");
  await dialog.getByRole("button", { name: "Yes, Delete" }).click();
  await expect(page.getByText("“Nightly Robot” is deleted.")).toBeVisible();
  await expect(row(page, "Nightly Robot")).toHaveCount(0);
});
