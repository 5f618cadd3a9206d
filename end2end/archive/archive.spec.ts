//! The release archive as an operator runs it (tools/dist-test.sh unpacks it as another user, with
//! no repository, Rust or Node around, makes the admin with the archive's own `liaison admin
//! create`, and starts it): the sign-in page loads the archive's wasm and hydrates, the split
//! chunks load, and the admin signs in.
import { admin, hydrated, signIn, expect, test } from "../tests/helpers";

test("the archive's sign-in page hydrates and its admin signs in", async ({ page }) => {
  const wasm = page.waitForResponse((r) => new URL(r.url()).pathname === "/pkg/liaison.wasm");
  await page.goto("/settings/developer-space/connections");
  await expect(page).toHaveURL(/\/login$/);
  expect((await wasm).status()).toBe(200);
  await hydrated(page);
  await signIn(page);
  await expect(page.getByText(admin.org)).toBeVisible();
  await expect(page.getByText("No connections yet")).toBeVisible();
});
