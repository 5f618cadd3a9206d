//! What the browser tests share: the suite's own `test` (every spec imports it from here), whose
//! watch fails a test on any uncaught page error or unexpected console error in any page it
//! opened, and the people, provider and steps the specs use.
import { test as base, expect, type Browser, type BrowserContext, type ConsoleMessage, type Locator, type Page, type TestInfo } from "@playwright/test";
import { join } from "node:path";

/** What went wrong in the pages of one test, and the console errors it said to expect. */
type Watch = {
  seen: string[];
  consoleErrors: { text: string; where: string }[];
  expected: RegExp[];
  /** Every page watched, to flush what each has thrown before the check. */
  pages: Page[];
};
const watches = new WeakMap<TestInfo, Watch>();

/**
 * Declares a console error the test expects (it then does not fail the test). `pattern` is tested
 * against "<url>: <message>", e.g. /\/rpc\/sign_in: .* 401 /.
 */
export function expectConsoleError(testInfo: TestInfo, pattern: RegExp) {
  const w = watches.get(testInfo);
  if (!w) throw new Error("expectConsoleError: the test has no watch (import test from ./helpers)");
  // A global or sticky regex keeps state between tests of it: it would match every other time.
  if (pattern.global || pattern.sticky) throw new Error(`expectConsoleError: ${pattern} must not have the g or y flag`);
  w.expected.push(pattern);
}

function watchPage(page: Page, w: Watch, watched: WeakSet<Page>) {
  if (watched.has(page)) return;
  watched.add(page);
  w.pages.push(page);
  page.on("pageerror", (e) => w.seen.push(`uncaught error on ${page.url()}: ${e.name}: ${e.message}`));
  page.on("console", (m: ConsoleMessage) => {
    if (m.type() !== "error") return;
    // A failed load ("Failed to load resource: … 404") names the resource in its location only.
    const where = m.location().url || page.url();
    w.consoleErrors.push({ text: m.text(), where });
  });
}

async function watchContext(context: BrowserContext, w: Watch, watched: WeakSet<Page>) {
  // The test provider's login pages (oidc-provider's development pages) ask Google for a font;
  // the tests run offline: an empty stylesheet answers, rather than a failed load in the console.
  await context.route("https://fonts.googleapis.com/**", (route) =>
    route.fulfill({ status: 200, contentType: "text/css", body: "" }),
  );
  for (const page of context.pages()) watchPage(page, w, watched);
  // Every page opened later in it, popups included.
  context.on("page", (page) => watchPage(page, w, watched));
}

/**
 * The suite's `test`: an automatic fixture watches every page of the test's context and of any
 * context the test creates with `browser.newContext()`, and fails the test afterwards on any
 * uncaught page error and any console error not declared with `expectConsoleError`.
 */
export const test = base.extend<{ pageWatch: Watch }>({
  pageWatch: [
    async ({ context, browser }, use, testInfo) => {
      const w: Watch = { seen: [], consoleErrors: [], expected: [], pages: [] };
      const watched = new WeakSet<Page>();
      watches.set(testInfo, w);
      await watchContext(context, w, watched);
      // Contexts the test makes itself are watched too.
      const newContext = browser.newContext;
      const patched: Browser["newContext"] = async (...args) => {
        const c = await newContext.apply(browser, args);
        await watchContext(c, w, watched);
        return c;
      };
      browser.newContext = patched;
      try {
        await use(w);
      } finally {
        browser.newContext = newContext;
      }
      // A round trip to every page still open: what a page threw before it answers is delivered
      // (and seen) before the check.
      await Promise.all(w.pages.filter((p) => !p.isClosed()).map((p) => p.evaluate(() => 0).catch(() => 0)));
      const said = (c: { text: string; where: string }) => `${c.where}: ${c.text}`;
      const unexpected = [
        ...w.seen,
        ...w.consoleErrors
          .filter((c) => !w.expected.some((re) => re.test(said(c))))
          .map((c) => `console error on ${said(c)}`),
        // A declared error that never came is a stale declaration, or a test that no longer tests.
        ...w.expected
          .filter((re) => !w.consoleErrors.some((c) => re.test(said(c))))
          .map((re) => `expected console error ${re} never came`),
      ];
      expect(unexpected, "uncaught page errors and unexpected console errors").toEqual([]);
    },
    { auto: true },
  ],
});
export { expect };

/**
 * A picture for docs/user-guide.md (docs/images/<name>.png), taken on every run so the guide
 * always shows this Liaison; `mask` hides what must not be pictured (a token shown once).
 * tools/test.sh checks after the run that every picture the guide names was written by it.
 */
export async function guideShot(page: Page, name: string, mask: Locator[] = []) {
  await page.screenshot({ path: join(__dirname, "..", "..", "docs", "images", `${name}.png`), mask });
}

export const liaisonBase = process.env.LIAISON_E2E_URL ?? "http://127.0.0.1:3000";

// The oidc-provider global-setup.ts starts for the flows.
export const provider = {
  port: 3100,
  issuer: "http://127.0.0.1:3100",
  clientId: "liaison-e2e",
  clientSecret: "e2e-client-secret-5d1f0c",
};

// The admin API token tools/test.sh gives the server (internal connections).
export const adminToken = process.env.LIAISON_ADMIN_TOKEN ?? "e2e-admin-token-0123456789abcdef0123";

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

/** Registers a redirect URL with the test provider's client, as a person pastes it there. */
export async function registerRedirect(url: string) {
  const res = await fetch(`${provider.issuer}/__test/redirect_uris?client_id=${provider.clientId}&add=${encodeURIComponent(url)}`);
  if (!res.ok) throw new Error(`the provider refused the redirect URL ${url}: ${res.status} ${await res.text()}`);
}

/** Drives oidc-provider's own login and consent pages in the authorisation popup. */
export async function approveInPopup(popup: Page, login = "alice") {
  await popup.waitForURL((u) => u.port === String(provider.port) && u.pathname.startsWith("/interaction/"));
  const loginBox = popup.locator('input[name="login"]');
  const proceed = popup.getByRole("button", { name: "Continue" });
  await expect(loginBox.or(proceed)).toBeVisible();
  if (await loginBox.isVisible()) {
    await loginBox.fill(login);
    await popup.locator('input[name="password"]').fill("any password");
    await popup.getByRole("button", { name: "Sign-in" }).click();
  }
  await proceed.click();
}

/** The popup closed itself (it may already have). */
export async function closes(popup: Page) {
  await expect.poll(() => popup.isClosed(), { timeout: 10_000 }).toBe(true);
}
