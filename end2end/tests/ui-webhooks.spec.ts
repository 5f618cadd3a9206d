import AxeBuilder from "@axe-core/playwright";
import { createHmac } from "node:crypto";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { expectConsoleError, hydrated, signIn, expect, test } from "./helpers";

// Runs after foundation.spec.ts (files run in name order on one server): the admin exists. The
// server may call private addresses over http (tools/test.sh), so a receiver in this process works.

type Delivery = { headers: IncomingHttpHeaders; body: string };

/** A receiver on a free local port: what it got, and its URL. */
async function receiver() {
  const got: Delivery[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      got.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { got, url: `http://127.0.0.1:${port}/liaison-events`, close: () => server.close() };
}

/** The receiver's check, as the README shows it: HMAC-SHA256 of "<t>.<body>" under the secret. */
function signed(secret: string, d: Delivery): boolean {
  const header = String(d.headers["liaison-signature"] ?? "");
  const t = header.split(",").find((p) => p.startsWith("t="))?.slice(2) ?? "";
  const expected = createHmac("sha256", secret).update(`${t}.${d.body}`).digest("hex");
  return header.split(",").some((p) => p === `v1=${expected}`);
}

test("an admin registers a webhook endpoint, sends a test event and sees it in the delivery log", async ({
  page,
}, testInfo) => {
  // The refused URL answers 422, which the browser logs.
  expectConsoleError(testInfo, /\/rpc\/create_webhook_endpoint: .*status of 422/);
  const hook = await receiver();
  try {
    await signIn(page);
    await page.getByRole("link", { name: "Webhooks" }).click();
    await expect(page).toHaveURL(/\/settings\/developer-space\/webhooks$/);
    await expect(page.getByRole("heading", { name: "Webhooks", level: 1 })).toBeVisible();
    await expect(page.getByText("No webhook endpoints yet")).toBeVisible();
    await hydrated(page);

    // A URL Liaison will not call is refused next to the field.
    await page.getByLabel("Endpoint URL").fill("ftp://console.example/events");
    await page.getByRole("button", { name: "Add endpoint" }).click();
    await expect(page.getByText("The URL must start with https://.")).toBeVisible();
    await expect(page.getByLabel("Endpoint URL")).toHaveAttribute("aria-invalid", "true");

    await page.getByLabel("Endpoint URL").fill(hook.url);
    await page.getByLabel("Description").fill("Acme console");
    await page.getByRole("button", { name: "Add endpoint" }).click();
    const shown = page.getByTestId("new-webhook-secret");
    await expect(shown).toHaveText(/^whsec_[A-Za-z0-9_-]{43}$/);
    const secret = (await shown.textContent())!.trim();
    const row = page.getByRole("row", { name: new RegExp(hook.url) });
    await expect(row).toContainText("Acme console");
    const axe = await new AxeBuilder({ page }).analyze();
    expect(axe.violations.map((v) => `${v.id} ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`)).toEqual([]);

    await page.getByRole("button", { name: `Send a test event to ${hook.url}` }).click();
    await expect(page.getByRole("status")).toContainText(/Test event evt_[0-9a-f]{32} queued/);
    await expect.poll(() => hook.got.length).toBe(1);
    const event = JSON.parse(hook.got[0].body);
    expect(event.type).toBe("webhook.test");
    expect(hook.got[0].headers["liaison-event-id"]).toBe(event.id);
    expect(signed(secret, hook.got[0])).toBe(true);
    expect(signed("whsec_not-the-secret", hook.got[0])).toBe(false);

    // The attempt in the log: delivered, the receiver's status, the latency.
    await expect(async () => {
      await page.getByRole("button", { name: "Refresh the log" }).click();
      const logged = page.getByTestId("webhook-deliveries").getByRole("row", { name: /webhook\.test/ });
      await expect(logged).toContainText("Delivered 204", { timeout: 500 });
      await expect(logged).toContainText(event.id, { timeout: 500 });
      await expect(logged).toContainText(/\d+ ms/, { timeout: 500 });
    }).toPass({ timeout: 10_000 });

    // After a reload the secret is gone for good.
    await page.reload();
    await hydrated(page);
    await expect(page.getByTestId("new-webhook-secret")).toHaveCount(0);
    await expect(page.getByText(secret)).toHaveCount(0);
    // The screenshot is taken only now, with no secret on the page.
    await page.screenshot({ path: "test-results/screens/webhooks.png", fullPage: true });

    // Deleted through the confirmation: no more events for it.
    await page.getByRole("button", { name: `Delete ${hook.url}` }).click();
    const dialog = page.getByRole("dialog", { name: `Delete the endpoint ${hook.url}?` });
    await dialog.getByRole("button", { name: "Yes, Delete" }).click();
    await expect(page.getByText("No webhook endpoints yet")).toBeVisible();
  } finally {
    hook.close();
  }
});
