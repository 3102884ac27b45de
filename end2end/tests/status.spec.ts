import { test, expect, type Page } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";

async function expectStatusContent(page: Page) {
  await expect(page.getByRole("heading", { level: 1, name: "Service status" })).toBeVisible();

  // The maturity matrix: each state shown by text as well as by colour.
  const matrix = page.getByRole("table");
  await expect(matrix.getByRole("columnheader", { name: "Best feasible value" })).toBeVisible();
  const gluster = matrix.getByRole("row", { name: /GlusterFS storage class/ });
  await expect(gluster.getByRole("cell").first()).toContainText("Caution");
  await expect(gluster.getByRole("cell").first()).toContainText("Technical preview");
  await expect(gluster.getByRole("cell").first()).toHaveClass(/rated-warn/);
  const okCell = matrix.getByRole("row", { name: /OpenShift version/ }).getByRole("cell").first();
  await expect(okCell).toContainText("OK");
  const colours = await Promise.all(
    [okCell, gluster.getByRole("cell").first()].map((cell) => cell.evaluate((el) => getComputedStyle(el).backgroundColor)),
  );
  expect(colours[0]).not.toEqual(colours[1]);

  await expect(page.getByRole("heading", { name: "Service level" })).toBeVisible();
  await expect(page.getByText("97% availability")).toBeVisible();

  const work = page.getByRole("region", { name: "Work remaining before production" });
  for (const area of ["Storage", "Networking", "Billing", "Customer processes"]) {
    await expect(work.getByRole("heading", { level: 3, name: area })).toBeVisible();
  }

  const issues = page.getByRole("region", { name: "Known issues" });
  const issue = issues.getByRole("article").filter({ hasText: "Clusters take a long time to deploy" });
  await expect(issue).toContainText("15–25 minutes");
  await expect(issue).toContainText("Cause known, fix in progress");
  await expect(issue).toContainText("Workaround");
  await expect(issue).toContainText("None yet.");
  await expect(issue.locator("time")).toHaveCount(2);
}

test("the status page shows the matrix, service level, work remaining and known issues", async ({ page }) => {
  const response = await page.goto("/status");
  expect(response?.status()).toBe(200);
  await expectStatusContent(page);
});

test("the status page hydrates, and navigation then happens without reloading", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  await page.goto("/");
  await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
  // A full page load would forget this marker; client-side routing keeps it.
  await page.evaluate(() => ((window as unknown as { berthMarker: number }).berthMarker = 42));
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Status" }).click();
  await expect(page).toHaveURL(/\/status$/);
  await expectStatusContent(page);
  expect(await page.evaluate(() => (window as unknown as { berthMarker?: number }).berthMarker)).toBe(42);
  await expect(page.getByRole("link", { name: "Status" })).toHaveAttribute("aria-current", "page");
  expect(errors).toEqual([]);
});

test("the cached status page hydrates when loaded directly, without errors", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error" || message.type() === "warning") errors.push(message.text());
  });
  await page.goto("/status");
  await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Home" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Self-service access to the container cloud");
  expect(errors).toEqual([]);
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("the status page renders fully and links work", async ({ page }) => {
    await page.goto("/");
    await expect(page.locator("html")).not.toHaveAttribute("data-hydrated", "true");
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Status" }).click();
    await expect(page).toHaveURL(/\/status$/);
    await expectStatusContent(page);
  });
});

test("an unknown address gets the not-found page with status 404", async ({ page }) => {
  const response = await page.goto("/no/such/page");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { level: 1, name: "Page not found" })).toBeVisible();
  await expect(page.getByRole("navigation", { name: "Main" })).toBeVisible();
});

test("pages have landmarks, one h1, and no accessibility violations (axe, WCAG 2 AA)", async ({ page }) => {
  for (const path of ["/", "/status", "/missing"]) {
    await page.goto(path);
    await expect(page.getByRole("banner")).toHaveCount(1);
    await expect(page.getByRole("main")).toHaveCount(1);
    await expect(page.getByRole("contentinfo")).toHaveCount(1);
    await expect(page.locator("h1")).toHaveCount(1);
    const results = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21aa"]).analyze();
    expect(results.violations.map((v) => `${path}: ${v.id}: ${v.help}`)).toEqual([]);
  }
});

test.describe("on a phone-width screen", () => {
  test.use({ viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true });

  test("the status page fits without sideways scrolling", async ({ page }) => {
    await page.goto("/status");
    await expectStatusContent(page);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
  });
});
