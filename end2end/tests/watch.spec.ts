//! The suite's watch (helpers.ts) itself: it must see an uncaught error in every kind of page a
//! test can open, and a console error; an error the test declared expected must not fail it.
//! Each test checks that the watch recorded the very error it caused (the watch fails a test on
//! anything it recorded), then clears it so the test itself can pass.
import { expectConsoleError, expect, test } from "./helpers";

test.describe.configure({ mode: "serial" });

test("an uncaught error in a popup is seen", async ({ page, pageWatch }) => {
  await page.goto("/login");
  const opened = page.waitForEvent("popup");
  await page.evaluate(() => void window.open("/login"));
  const popup = await opened;
  const thrown = popup.waitForEvent("pageerror");
  await popup.evaluate(() => void setTimeout(() => { throw new Error("thrown in the popup"); }, 0));
  await thrown;
  expect(pageWatch.seen).toEqual([expect.stringContaining("thrown in the popup")]);
  pageWatch.seen.length = 0;
});

test("an uncaught error in a context the test made itself is seen", async ({ browser, pageWatch }) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto("/login");
  const thrown = page.waitForEvent("pageerror");
  await page.evaluate(() => void setTimeout(() => { throw new Error("thrown in another context"); }, 0));
  await thrown;
  await context.close();
  expect(pageWatch.seen).toEqual([expect.stringContaining("thrown in another context")]);
  pageWatch.seen.length = 0;
});

test("a 404 in the console is seen", async ({ page, pageWatch }) => {
  await page.goto("/login");
  const logged = page.waitForEvent("console", (m) => m.type() === "error");
  expect(await page.evaluate(() => fetch("/no-such-resource").then((r) => r.status))).toBe(404);
  await logged;
  expect(pageWatch.consoleErrors.map((c) => `${c.where}: ${c.text}`)).toEqual([
    expect.stringMatching(/\/no-such-resource: .*status of 404/),
  ]);
  pageWatch.consoleErrors.length = 0;
});

test("a console error the test declared expected does not fail it", async ({ page }, testInfo) => {
  expectConsoleError(testInfo, /\/no-such-resource: .*status of 404/);
  await page.goto("/login");
  const logged = page.waitForEvent("console", (m) => m.type() === "error");
  expect(await page.evaluate(() => fetch("/no-such-resource").then((r) => r.status))).toBe(404);
  await logged;
});
