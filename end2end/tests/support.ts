// Helpers shared by the browser tests: unique names, links from the mail directory, signing in by e-mail link, and
// the accessibility check.
import { expect, type Page } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

// `.ci/test` makes E2E_ADMIN_EMAIL an admin (admin_emails) and sends mail to E2E_MAIL_DIR.
export const mailDir = process.env.E2E_MAIL_DIR ?? "";
export const adminAddress = process.env.E2E_ADMIN_EMAIL ?? "e2e-admin@example.org";

export function unique(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
}

/** The messages in the mail directory, newest first, with quoted-printable soft breaks and escapes undone (in case
 * the transport used them). */
export function mailNewestFirst(): string[] {
  return readdirSync(mailDir)
    .filter((name) => name.endsWith(".eml"))
    .map((name) => join(mailDir, name))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)
    .map((file) =>
      readFileSync(file, "utf8")
        .replace(/=\r?\n/g, "")
        .replace(/=([0-9A-F]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16))),
    );
}

/** The newest link in mail to `address` that matches `pattern`. */
export function newestMailLink(address: string, pattern: RegExp): string | undefined {
  for (const text of mailNewestFirst()) {
    if (!text.includes(`To: ${address}`)) continue;
    const link = text.match(pattern)?.[0];
    if (link) return link;
  }
  return undefined;
}

function newestLinkTo(address: string): string | undefined {
  return newestMailLink(address, /https?:\/\/[^\s"<>]+\/signin\/link\?token=[A-Za-z0-9_-]+/);
}

/** Signs in by e-mail link (completing sign-up for a new account). */
export async function signIn(page: Page, address: string) {
  const before = newestLinkTo(address);
  await page.goto("/signin");
  await page.getByLabel("E-mail address").fill(address);
  await page.getByRole("button", { name: "Send me a sign-in link" }).click();
  let link: string | undefined;
  await expect
    .poll(() => {
      link = newestLinkTo(address);
      return link !== undefined && link !== before;
    }, { timeout: 10_000 })
    .toBe(true);
  await page.goto(link!);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((url) => !url.pathname.startsWith("/signin"));
  if (page.url().endsWith("/signup")) {
    await page.getByLabel("Your name").fill("Applicant Person");
    await page.getByLabel("Organisation").fill("Example University");
    await page.getByLabel(/I accept the terms of use/).check();
    await page.getByRole("button", { name: "Continue" }).click();
    await expect(page).toHaveURL(/\/account$/);
    await expect(page.getByRole("heading", { level: 1, name: "Your account" })).toBeVisible();
  }
}

/** Checks the page against WCAG 2.1 AA with axe. */
export async function axe(page: Page, label: string) {
  const results = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21aa"]).analyze();
  expect(results.violations.map((v) => `${label}: ${v.id}: ${v.help}`)).toEqual([]);
}
