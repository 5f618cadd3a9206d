import type { Page } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";
import { approveInPopup, expectConsoleError, guideShot, hydrated, provider, signIn, expect, test } from "./helpers";

// Runs after ui-people.spec.ts (files run in name order on one server): the member Bob exists, and
// the custom service "Acme ID" (id 1) from ui-flows.spec.ts.
test.describe.configure({ mode: "serial" });

const member = { email: "bob@acme.example", password: "another long passphrase 42" };

function row(page: Page, name: string) {
  return page.getByRole("row").filter({ has: page.getByRole("rowheader", { name }) });
}

test("an admin makes a reconnect link on a connection and the member uses it in another browser", async ({
  page,
  browser,
}, testInfo) => {
  // The used link, opened again, answers 400, which the browser logs.
  expectConsoleError(testInfo, /\/reconnect\/[A-Za-z0-9_-]+: .*status of 400/);
  // A shared connection Ada made but did not authorise: the popup closed before consent.
  await signIn(page);
  await page.goto("/settings/developer-space/connections/new/custom/1");
  await hydrated(page);
  await page.getByLabel("Connection Name").fill("Field Sales");
  await page.getByLabel(/Sign you in/).check();
  const popupOpened = page.waitForEvent("popup");
  await page.getByRole("button", { name: "Create and Connect" }).click();
  const popup = await popupOpened;
  // Closed at the provider (the flow has started: its status is known to the page's wait).
  await popup.waitForURL((u) => u.port === String(provider.port));
  await popup.close();
  await expect(page.getByText("The authorisation window was closed before access was granted.")).toBeVisible();

  await page.goto("/settings/developer-space/connections/field_sales");
  await hydrated(page);
  const section = page.getByRole("region", { name: "Reconnect links" });
  await expect(section.getByText("No reconnect links for this connection.")).toBeVisible();
  // No person chosen: said next to the field, nothing made.
  await section.getByRole("button", { name: "Make a reconnect link" }).click();
  await expect(section.getByText("Choose the person the link is for.")).toBeVisible();
  await expect(section.getByLabel("Person")).toHaveAttribute("aria-invalid", "true");
  await section.getByLabel("Person").selectOption({ label: "Bob Member (bob@acme.example)" });
  await section.getByLabel("Valid for").selectOption({ label: "3 days" });
  await section.getByRole("button", { name: "Make a reconnect link" }).click();
  const shown = section.getByTestId("new-reconnect-link");
  await expect(shown).toHaveText(/\/reconnect\/[A-Za-z0-9_-]{43}$/);
  const url = (await shown.textContent())!.trim();
  await expect(section.getByRole("heading", { name: "Copy the link for bob@acme.example now" })).toBeVisible();
  const listed = row(page, "bob@acme.example");
  await expect(listed).toContainText("Not used yet");
  await expect(listed.getByRole("button", { name: "Revoke the link for bob@acme.example" })).toBeVisible();
  const axe = await new AxeBuilder({ page }).analyze();
  expect(axe.violations.map((v) => `${v.id} ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`)).toEqual([]);
  await section.getByRole("table").scrollIntoViewIfNeeded();
  await guideShot(page, "reconnect-links", [shown]);

  // Bob, signed out in a browser of his own, opens it: sign-in, then back to the link.
  const context = await browser.newContext();
  const bobPage = await context.newPage();
  await bobPage.goto(url);
  await expect(bobPage).toHaveURL(/\/login\?next=\/reconnect\//);
  await hydrated(bobPage);
  await bobPage.getByLabel("Email").fill(member.email);
  await bobPage.getByLabel("Password").fill(member.password);
  await bobPage.getByRole("button", { name: "Sign in" }).click();
  await expect(bobPage).toHaveURL(url);
  await expect(bobPage.getByRole("heading", { name: "Reconnect" })).toBeVisible();
  await expect(bobPage.getByText("Authorise Field Sales again")).toBeVisible();
  await bobPage.getByRole("link", { name: "Continue to the provider" }).click();
  await approveInPopup(bobPage, "bob");
  await expect(bobPage).toHaveURL(/\/settings\/developer-space\/connections\?authorised=field_sales$/);
  await hydrated(bobPage);
  await expect(row(bobPage, "Field Sales")).toContainText("Connected");
  // Used: a second opening is refused, in words.
  await bobPage.goto(url);
  await expect(bobPage.getByText("This reconnect link cannot be used")).toBeVisible();
  await context.close();

  // Ada sees it used, authorised by Bob; a second link she revokes.
  await page.reload();
  await hydrated(page);
  await expect(page.getByText(/^by bob@acme\.example on /)).toBeVisible();
  await expect(row(page, "bob@acme.example").first()).toContainText("Used");
  await expect(page.getByRole("button", { name: "Revoke the link for bob@acme.example" })).toHaveCount(0);
  await section.getByLabel("Person").selectOption({ label: "Bob Member (bob@acme.example)" });
  await section.getByRole("button", { name: "Make a reconnect link" }).click();
  await expect(section.getByTestId("new-reconnect-link")).toBeVisible();
  await page.getByRole("button", { name: "Revoke the link for bob@acme.example" }).click();
  await expect(row(page, "bob@acme.example").first()).toContainText("Revoked");
  await expect(page.getByRole("button", { name: "Revoke the link for bob@acme.example" })).toHaveCount(0);
});
