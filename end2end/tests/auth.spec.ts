import { test, expect, type Page } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";
import { mailDir, mailNewestFirst } from "./support";

// `.ci/test` starts Berth with its mail going to E2E_MAIL_DIR and with a real OpenID Connect provider
// (npm oidc-provider) configured as "Test Provider", which knows the user E2E_OIDC_USER / E2E_OIDC_PASSWORD.
const providerUser = process.env.E2E_OIDC_USER ?? "ada";
const providerPassword = process.env.E2E_OIDC_PASSWORD ?? "ada-pw";
// A second provider user whose verified address is one that signs up by e-mail first, for the joining test.
const joinUser = process.env.E2E_OIDC_JOIN_USER ?? "grace";
const joinPassword = process.env.E2E_OIDC_JOIN_PASSWORD ?? "grace-pw";
const joinAddress = process.env.E2E_OIDC_JOIN_EMAIL ?? "grace@example.org";

function uniqueAddress(prefix: string): string {
  return `${prefix}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.org`;
}

/** The sign-in links in the messages to `address` in the mail directory, newest first. */
function signInLinksTo(address: string): string[] {
  const links: string[] = [];
  for (const text of mailNewestFirst()) {
    if (!text.includes(address)) continue;
    const link = text.match(/https?:\/\/[^\s"<>]+\/signin\/link\?token=[A-Za-z0-9_-]+/)?.[0];
    if (link) links.push(link);
  }
  return links;
}

/** The sign-in link in the newest message to `address`, waiting until at least `count` such messages arrived. */
async function signInLinkFor(address: string, count = 1): Promise<string> {
  expect(mailDir, "E2E_MAIL_DIR names the mail directory").not.toBe("");
  let link: string | undefined;
  await expect
    .poll(
      () => {
        const links = signInLinksTo(address);
        link = links.length >= count ? links[0] : undefined;
        return link;
      },
      { timeout: 10_000, message: `a sign-in link for ${address}` },
    )
    .toBeDefined();
  return link!;
}

async function expectSignedInAs(page: Page, name: string) {
  const header = page.getByRole("banner");
  await expect(header.getByRole("link", { name })).toBeVisible();
  await expect(header.getByRole("button", { name: "Sign out" })).toBeVisible();
}

async function signUpByEmail(page: Page, address: string, name: string) {
  await page.goto("/signin");
  await page.getByLabel("E-mail address").fill(address);
  await page.getByRole("button", { name: "Send me a sign-in link" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Check your e-mail" })).toBeVisible();

  await page.goto(await signInLinkFor(address));
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/signup$/);
  await page.getByLabel("Your name").fill(name);
  await page.getByLabel("Organisation").fill("Example University");
  await page.getByLabel(/I accept the terms of use/).check();
  await page.getByRole("button", { name: "Continue" }).click();
  await expect(page).toHaveURL(/\/account$/);
  // The address changes before a lazily loaded page has replaced the one before it: wait for the page itself.
  await expect(page.getByRole("heading", { level: 1, name: "Your account" })).toBeVisible();
}

test("signing up with an e-mail link creates the account and shows it", async ({ page }) => {
  const address = uniqueAddress("signup");
  await signUpByEmail(page, address, "Ada Lovelace");
  await expect(page.getByRole("heading", { level: 1, name: "Your account" })).toBeVisible();
  await expect(page.getByLabel("Name")).toHaveValue("Ada Lovelace");
  await expect(page.getByRole("main").getByText(address, { exact: true })).toBeVisible();
  await expect(page.getByText(/version 2026-11, accepted/)).toBeVisible();
  await expect(page.getByText("(this browser)")).toBeVisible();
  await expectSignedInAs(page, "Ada Lovelace");
  const results = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21aa"]).analyze();
  expect(results.violations.map((v) => `${v.id}: ${v.help}`)).toEqual([]);
});

test("signing in through the provider's own login form", async ({ page }) => {
  await page.goto("/signin");
  await page.getByRole("button", { name: "Sign in with Test Provider" }).click();
  // The provider's page, on another origin.
  await expect(page.getByRole("heading", { name: "Test provider" })).toBeVisible();
  await page.getByLabel("Username").fill(providerUser);
  await page.getByLabel("Password").fill(providerPassword);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page).toHaveURL(/\/(signup|account)$/);
  if (page.url().endsWith("/signup")) {
    await page.getByLabel("Your name").fill("Provider Person");
    await page.getByLabel("Organisation").fill("Provider University");
    await page.getByLabel(/I accept the terms of use/).check();
    await page.getByRole("button", { name: "Continue" }).click();
    await expect(page).toHaveURL(/\/account$/);
  }
  await expect(page.getByRole("region", { name: "Ways to sign in" })).toContainText("Test Provider");
  await expectSignedInAs(page, "Provider Person");
});

test("a provider vouching for an existing address joins it only through the e-mail link, in this browser", async ({
  page,
}) => {
  await signUpByEmail(page, joinAddress, "Grace Hopper");
  await page.getByRole("banner").getByRole("button", { name: "Sign out" }).click();
  await page.goto("/signin");
  await page.getByRole("button", { name: "Sign in with Test Provider" }).click();
  await page.getByLabel("Username").fill(joinUser);
  await page.getByLabel("Password").fill(joinPassword);
  await page.getByRole("button", { name: "Log in" }).click();
  // The provider's word alone signs nobody in to the existing account.
  await expect(page).toHaveURL(/\/signin\/link-account$/);
  await expect(page.getByRole("heading", { level: 1, name: "You already have an account" })).toBeVisible();
  await page.goto("/account");
  await expect(page).toHaveURL(/\/signin$/);

  // The proof: the second link to that address, opened in this browser.
  await page.goto(await signInLinkFor(joinAddress, 2));
  await expect(page.getByRole("main")).toContainText("g\u2022\u2022\u2022@example.org");
  await expect(page.getByRole("main")).toContainText("links your Test Provider sign-in");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/account/);
  await expect(page.getByRole("region", { name: "Ways to sign in" })).toContainText("Test Provider");
  await expectSignedInAs(page, "Grace Hopper");
});

test("signing out ends the session", async ({ page }) => {
  await signUpByEmail(page, uniqueAddress("signout"), "Short Visit");
  await page.getByRole("banner").getByRole("button", { name: "Sign out" }).click();
  await expect(page.getByRole("banner").getByRole("link", { name: "Sign in" })).toBeVisible();
  await page.goto("/account");
  await expect(page).toHaveURL(/\/signin$/);
});

test("the account page edits the profile after hydration, without a reload", async ({ page }) => {
  await signUpByEmail(page, uniqueAddress("profile"), "Before Name");
  await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
  // Only spaces: the browser's own check (required) lets it through, the server's does not.
  await page.getByLabel("Name").fill("   ");
  await page.getByRole("button", { name: "Save profile" }).click();
  await expect(page.locator("#name-error")).toHaveText("Enter your name.");
  await page.getByLabel("Name").fill("After Name");
  await page.getByRole("button", { name: "Save profile" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Saved." })).toBeVisible();
  await page.reload();
  await expect(page.getByLabel("Name")).toHaveValue("After Name");
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("sign-up errors are shown next to their field, and sign-up then completes", async ({ page }) => {
    const address = uniqueAddress("nojs");
    await page.goto("/signin");
    // Passes the browser's own check for type=email, not Berth's (no leading dot).
    await page.getByLabel("E-mail address").fill(".dot@example.org");
    await page.getByRole("button", { name: "Send me a sign-in link" }).click();
    await expect(page.locator("#email-error")).toBeVisible();
    await expect(page.getByLabel("E-mail address")).toHaveAttribute("aria-invalid", "true");

    await page.getByLabel("E-mail address").fill(address);
    await page.getByRole("button", { name: "Send me a sign-in link" }).click();
    await page.goto(await signInLinkFor(address));
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByLabel("Your name").fill("No Script");
    await page.getByLabel("Organisation").fill("Plain HTML Inc.");
    await page.getByRole("button", { name: "Continue" }).click();
    await expect(page.locator("#accept_terms-error")).toHaveText("You need to accept the terms of use to continue.");
    await page.getByLabel("Your name").fill("No Script");
    await page.getByLabel("Organisation").fill("Plain HTML Inc.");
    await page.getByLabel(/I accept the terms of use/).check();
    await page.getByRole("button", { name: "Continue" }).click();
    await expect(page).toHaveURL(/\/account$/);
    await expectSignedInAs(page, "No Script");
  });
});
