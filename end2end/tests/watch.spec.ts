//! The suite's watch (helpers.ts) itself: each of these must fail because of it, in every kind of
//! page a test can open, and an error the test declared expected must not fail it.
import { expectConsoleError, expect, test } from "./helpers";

test.describe.configure({ mode: "serial" });

test("an uncaught error in a popup fails the test", async ({ page }) => {
  test.fail(true, "the watch must see it");
  await page.goto("/login");
  const opened = page.waitForEvent("popup");
  await page.evaluate(() => void window.open("/login"));
  const popup = await opened;
  const thrown = popup.waitForEvent("pageerror");
  await popup.evaluate(() => void setTimeout(() => { throw new Error("thrown in the popup"); }, 0));
  await thrown;
});

test("an uncaught error in a context the test made itself fails the test", async ({ browser }) => {
  test.fail(true, "the watch must see it");
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto("/login");
  const thrown = page.waitForEvent("pageerror");
  await page.evaluate(() => void setTimeout(() => { throw new Error("thrown in another context"); }, 0));
  await thrown;
  await context.close();
});

test("a 404 in the console fails the test", async ({ page }) => {
  test.fail(true, "the watch must see it");
  await page.goto("/login");
  const logged = page.waitForEvent("console", (m) => m.type() === "error");
  expect(await page.evaluate(() => fetch("/no-such-resource").then((r) => r.status))).toBe(404);
  await logged;
});

test("a console error the test declared expected does not fail it", async ({ page }, testInfo) => {
  expectConsoleError(testInfo, /\/no-such-resource: .*status of 404/);
  await page.goto("/login");
  const logged = page.waitForEvent("console", (m) => m.type() === "error");
  expect(await page.evaluate(() => fetch("/no-such-resource").then((r) => r.status))).toBe(404);
  await logged;
});
