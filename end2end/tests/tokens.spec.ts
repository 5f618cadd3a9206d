import { expectConsoleError, guideShot, hydrated, signIn, expect, test } from "./helpers";

// Runs after foundation.spec.ts (files run in name order on one server): the admin exists.

test("an API token is shown once, copied, works, and is revoked through a confirmation dialog", async ({
  page,
  context,
}, testInfo) => {
  // The refused token (no name) answers 422, which the browser logs.
  expectConsoleError(testInfo, /\/rpc\/create_api_token: .*status of 422/);
  await context.grantPermissions(["clipboard-read", "clipboard-write"]);
  await signIn(page);
  await page.getByRole("link", { name: "API tokens" }).click();
  await expect(page).toHaveURL(/\/settings\/developer-space\/api-tokens$/);
  await expect(page.getByRole("heading", { name: "API tokens", level: 1 })).toBeVisible();
  await expect(page.getByText("No API tokens yet")).toBeVisible();
  await hydrated(page);

  // An empty name is refused with its message, next to the field.
  await page.getByRole("button", { name: "Create token" }).click();
  await expect(page.getByText("Enter a name for the token.")).toBeVisible();
  await expect(page.getByLabel("Token name")).toHaveAttribute("aria-invalid", "true");

  await page.getByLabel("Token name").fill("Nightly sync");
  await page.getByRole("button", { name: "Create token" }).click();
  const shown = page.getByTestId("new-token");
  await expect(shown).toHaveText(/^lsn_[A-Za-z0-9_-]{40,}$/);
  const token = (await shown.textContent())!.trim();
  await expect(page.getByLabel("Token name")).toHaveValue("");
  const row = page.getByRole("row", { name: /Nightly sync/ });
  await expect(row).toContainText(token.slice(0, 10) + "…");
  await expect(row).toContainText("Never");
  await guideShot(page, "api-token-created", [shown, row.getByRole("cell").first()]);

  await page.getByRole("button", { name: "Copy token" }).click();
  await expect(page.getByRole("button", { name: "Copy token" })).toHaveText("Copied");
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(token);

  // The token authenticates a script: an unknown connection, not an unknown caller.
  const call = () =>
    page.request.get("/api/v1/connections/no_such_link/proxy/x", { headers: { Authorization: `Bearer ${token}` } });
  let res = await call();
  expect(res.status()).toBe(404);
  expect((await res.json()).code).toBe("connection_not_found");

  // After a reload the value is gone for good: only its start is listed.
  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId("new-token")).toHaveCount(0);
  await expect(page.getByText(token)).toHaveCount(0);
  // The last use is written in the background (the API's call log, in batches every 50 ms): a
  // later load of the page shows it.
  await expect(async () => {
    await page.reload();
    await hydrated(page);
    // Cells: token, created, last used, expires (this one never does).
    const cells = page.getByRole("row", { name: /Nightly sync/ }).getByRole("cell");
    await expect(cells.nth(2)).not.toHaveText("Never", { timeout: 500 });
    await expect(cells.nth(3)).toHaveText("Never");
  }).toPass({ timeout: 10_000 });

  // Revoke: the dialog traps focus, Escape cancels and gives focus back, Revoke revokes.
  const revokeButton = page.getByRole("button", { name: "Revoke Nightly sync" });
  await revokeButton.click();
  const dialog = page.getByRole("dialog", { name: "Revoke “Nightly sync”?" });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByRole("button", { name: "Cancel" })).toBeFocused();
  await page.keyboard.press("Tab");
  await expect(dialog.getByRole("button", { name: "Revoke" })).toBeFocused();
  await page.screenshot({ path: "test-results/screens/api-token-revoke-dialog.png", fullPage: true });
  await page.keyboard.press("Escape");
  await expect(dialog).toBeHidden();
  await expect(revokeButton).toBeFocused();
  expect((await call()).status()).toBe(404);

  await revokeButton.click();
  await dialog.getByRole("button", { name: "Revoke" }).click();
  await expect(page.getByRole("row", { name: /Nightly sync/ })).toContainText("Revoked");
  await expect(page.getByRole("button", { name: "Revoke Nightly sync" })).toHaveCount(0);
  res = await call();
  expect(res.status()).toBe(401);
  expect((await res.json()).code).toBe("unauthenticated");
});
