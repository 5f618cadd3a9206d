import { createHmac, randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import { expectConsoleError, hydrated, liaisonBase, signIn, expect, test } from "./helpers";

// Embed mode: a host console on another site shows Liaison in an iframe, signs its user in with
// a signed token, and hears what happens. tools/test.sh gives the server these settings. A token
// signs someone in once: the console mints a fresh one (its own `jti`) for every page load.
const hostOrigin = "http://localhost:3200";
const secret = process.env.LIAISON_EMBED_SECRET ?? "e2e-embed-secret-0123456789abcdef0123";

function token(claims: object): string {
  const payload = Buffer.from(JSON.stringify({ ...claims, jti: randomUUID() })).toString("base64url");
  const sig = createHmac("sha256", secret).update(payload).digest("base64url");
  return `${payload}.${sig}`;
}

let host: Server;
let iframeSrc = "";

test.beforeAll(async () => {
  host = createServer((req, res) => {
    res.setHeader("content-type", "text/html; charset=utf-8");
    res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Host console</title></head>
<body><h1>Host console</h1>
<script>window.events = []; window.addEventListener("message", (e) => { window.events.push({ origin: e.origin, data: e.data }); });</script>
<iframe id="liaison" title="Liaison" src="${iframeSrc}" style="width: 1200px; height: 900px; border: 0"></iframe>
</body></html>`);
  });
  await new Promise<void>((r) => host.listen(3200, "127.0.0.1", r));
});

test.afterAll(async () => {
  await new Promise((r) => host.close(r));
});

test("a host console embeds Liaison, signs its user in, and hears what happens", async ({ page, request }, testInfo) => {
  // The sign-in refused outside a frame answers 403, which the browser logs.
  expectConsoleError(testInfo, /\/embed\/start\?token=[^:]*: .*status of 403/);
  // The pages may be framed by the configured console only.
  const res = await request.get("/login");
  expect(res.headers()["content-security-policy"]).toContain(`frame-ancestors 'self' ${hostOrigin}`);

  // A token for another origin, or an expired one, signs nobody in.
  const now = Math.floor(Date.now() / 1000);
  const foreign = await request.get(`/embed/start?token=${token({ sub: "ada@acme.example", origin: "http://evil.example", exp: now + 60 })}`, { maxRedirects: 0 });
  expect(foreign.status()).toBe(401);
  expect(await foreign.text()).toContain("the token's origin is not one of embed_origins");
  const expired = await request.get(`/embed/start?token=${token({ sub: "ada@acme.example", origin: hostOrigin, exp: now - 1 })}`, { maxRedirects: 0 });
  expect(expired.status()).toBe(401);

  // Opened as a page of its own (not in a frame), a good token signs nobody in.
  const topLevel = `${liaisonBase}/embed/start?token=${token({ sub: "ada@acme.example", origin: hostOrigin, exp: now + 120 })}`;
  const refused = await page.goto(topLevel);
  expect(refused?.status()).toBe(403);
  await expect(page.locator("body")).toContainText("only inside the console's frame");

  iframeSrc = `${liaisonBase}/embed/start?token=${token({ sub: "ada@acme.example", origin: hostOrigin, exp: now + 120 })}`;
  const startRequest = page.waitForRequest((r) => r.url().startsWith(`${liaisonBase}/embed/start`));
  await page.goto(`${hostOrigin}/`);
  const frame = page.frameLocator("#liaison");
  await expect(frame.getByRole("heading", { name: "Connections", level: 1 })).toBeVisible();
  // The embedded session's cookie is __Host- prefixed: Secure, Path=/, no Domain.
  const started = await (await startRequest).response();
  expect(started?.status()).toBe(303);
  const cookie = (await started?.headerValue("set-cookie")) ?? "";
  expect(cookie).toMatch(/^__Host-liaison_embed=[^;]+; /);
  expect(cookie).toContain("Path=/");
  expect(cookie).toContain("Secure");
  expect(cookie).not.toMatch(/domain=/i);
  // The token in the iframe's address was used: loaded again, it signs nobody in.
  const replay = await request.get(iframeSrc, { maxRedirects: 0 });
  expect(replay.status()).toBe(401);
  expect(await replay.text()).toContain("used before");
  await expect(frame.locator("body")).toHaveAttribute("data-hydrated", "true");
  // No chrome of its own inside the console.
  await expect(frame.getByRole("button", { name: "Sign out" })).toHaveCount(0);
  await expect(frame.getByRole("navigation", { name: "Breadcrumb" })).toHaveCount(0);

  await frame.getByRole("link", { name: "+ New Connection" }).click();
  await frame.getByRole("tab", { name: "Custom Services" }).click();
  await frame.getByRole("link", { name: /^Acme Machines/ }).click();
  await frame.getByLabel("Connection Name").fill("Embedded Robot");
  await frame.getByLabel(/Read the API/).check();
  await frame.getByRole("button", { name: "Create and Connect" }).click();
  const r = frame.getByRole("row").filter({ has: frame.getByRole("rowheader", { name: "Embedded Robot" }) });
  await expect(r).toContainText("Connected");

  await r.hover();
  await r.getByRole("button", { name: "Revoke Embedded Robot" }).click();
  // The dialog focuses Cancel inside the console's frame too (where `autofocus` is refused).
  const revoke = frame.getByRole("dialog", { name: "Revoke “Embedded Robot”?" });
  await expect(revoke.getByRole("button", { name: "Cancel" })).toBeFocused();
  await revoke.getByRole("button", { name: "Revoke" }).click();
  await expect(r).toContainText("Revoked");
  await r.hover();
  await r.getByRole("button", { name: "Delete Embedded Robot" }).click();
  await frame.getByRole("dialog", { name: "Delete “Embedded Robot”?" }).getByRole("button", { name: "Yes, Delete" }).click();
  await expect(r).toHaveCount(0);
  await page.screenshot({ path: "test-results/screens/embedded.png", fullPage: true });

  const events = await page.evaluate(() => (window as any).events);
  expect(events).toEqual(
    ["connection.created", "connection.authorised", "connection.revoked", "connection.deleted"].map((event) => ({
      origin: liaisonBase,
      data: { type: "liaison:event", event, link_name: "embedded_robot" },
    })),
  );
});

test("the embedded session stays in its iframe: Liaison's own tab is not signed in by it", async ({ page }) => {
  await page.goto("/settings/developer-space/connections");
  await expect(page).toHaveURL(/\/login$/);
  await signIn(page);
});

test("the configured theme reaches the console's iframe and forces its scheme; Liaison's own tab keeps its look", async ({ page }) => {
  // tools/test.sh gives the server LIAISON_EMBED_THEME="accent=#0b6e4f; accent_text=#ffffff;
  // radius=4px; font=serif; scheme=light". The browser prefers dark: the theme's scheme wins.
  await page.emulateMedia({ colorScheme: "dark" });
  const now = Math.floor(Date.now() / 1000);
  iframeSrc = `${liaisonBase}/embed/start?token=${token({ sub: "ada@acme.example", origin: hostOrigin, exp: now + 120 })}`;
  const themeLoaded = page.waitForResponse(`${liaisonBase}/theme.css`);
  await page.goto(`${hostOrigin}/`);
  const frame = page.frameLocator("#liaison");
  const button = frame.getByRole("link", { name: "+ New Connection" });
  await expect(button).toBeVisible();
  expect((await themeLoaded).status()).toBe(200);
  const look = (el: Element) => {
    const root = getComputedStyle(el.ownerDocument.documentElement);
    return {
      button: getComputedStyle(el).backgroundColor,
      text: getComputedStyle(el).color,
      background: root.backgroundColor,
      radius: root.getPropertyValue("--liaison-radius").trim(),
      font: root.fontFamily.split(",")[0],
    };
  };
  expect(await button.evaluate(look)).toEqual({
    button: "rgb(11, 110, 79)",
    text: "rgb(255, 255, 255)",
    background: "rgb(246, 247, 249)",
    radius: "4px",
    font: "Georgia",
  });

  // Liaison's own tab, in the same dark-preferring browser: dark, with its own accent and font.
  await signIn(page);
  const own = page.getByRole("link", { name: "+ New Connection" });
  await hydrated(page);
  const mine = await own.evaluate(look);
  expect(mine.button).toBe("rgb(122, 167, 255)");
  expect(mine.background).toBe("rgb(17, 22, 29)");
  expect(mine.radius).toBe("8px");
  expect(mine.font).toBe("system-ui");
  await expect(page.locator('link[href="/theme.css"]')).toHaveCount(0);
});
