import { expect, type Page } from "@playwright/test";

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
