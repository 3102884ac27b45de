import { test, expect, type Page } from "@playwright/test";
import { adminAddress, axe, newestMailLink, signIn, unique } from "./support";

// One admin address signs in for several tests, and a sign-in ends that address's other links: one at a time.
test.describe.configure({ mode: "serial" });

function inAYear(): string {
  const date = new Date();
  date.setFullYear(date.getFullYear() + 1);
  return date.toISOString().slice(0, 10);
}

/** The whole flow: apply, changes requested, edit and resubmit, approved with a changed quota; returns the project. */
async function applyReviewApprove(applicant: Page, admin: Page, checkAccessibility: boolean): Promise<string> {
  const name = unique("lab");
  const address = `${name}@example.org`;
  await signIn(applicant, address);
  await signIn(admin, adminAddress);

  await applicant.goto("/applications/new");
  await expect(applicant.getByRole("heading", { level: 1, name: "Apply for a project" })).toBeVisible();
  if (checkAccessibility) await axe(applicant, "the form");
  await applicant.getByLabel("Project name").fill(name);
  await applicant.getByLabel("Title").fill("Ocean model runs");
  await applicant.getByLabel("Purpose").fill("Running the ocean model for the 2027 report.");
  await applicant.getByLabel("Expected end date").fill(inAYear());
  await applicant.getByLabel("CPU cores").fill("8");
  await applicant.getByLabel("Why more than the standard quota").fill("The model needs eight cores.");
  await applicant.getByLabel("Why a new billing account").fill("Our group has none yet.");
  await applicant.getByLabel(/I accept the terms of use/).check();
  await applicant.getByRole("button", { name: "Submit for review" }).click();
  await expect(applicant).toHaveURL(/\/applications\/\d+\?notice=submitted$/);
  await expect(applicant.getByRole("status")).toContainText("Submitted.");
  const url = applicant.url().replace(/\?.*$/, "");
  const id = url.split("/").pop();

  // The admin finds it in the queue and asks for changes.
  await admin.goto("/admin/applications");
  if (checkAccessibility) await axe(admin, "the queue");
  await admin.getByRole("link", { name, exact: true }).click();
  await expect(admin).toHaveURL(new RegExp(`/admin/applications/${id}$`));
  if (checkAccessibility) await axe(admin, "the review page");
  await admin.getByLabel("What should change").fill("Please say how long each run takes.");
  await admin.getByRole("button", { name: "Request changes" }).click();
  await expect(admin.getByRole("heading", { name: /Changes requested by/ })).toBeVisible();

  // The applicant sees the request, edits and resubmits.
  await applicant.goto(url);
  await expect(applicant.getByText("Please say how long each run takes.").first()).toBeVisible();
  await applicant.getByLabel("Purpose").fill("Running the ocean model for the 2027 report; each run takes six hours.");
  await applicant.getByLabel(/I accept the terms of use/).check();
  await applicant.getByRole("button", { name: "Resubmit for review" }).click();
  await expect(applicant).toHaveURL(/notice=submitted$/);

  // The admin approves with fewer cores, which needs a reason.
  await admin.goto(`/admin/applications/${id}`);
  await admin.getByLabel("Granted CPU cores").fill("6");
  await admin.getByRole("button", { name: "Approve", exact: true }).click();
  await expect(admin.getByText("Say why the granted quota differs from the request.")).toBeVisible();
  await admin.getByLabel("Granted CPU cores").fill("6");
  await admin.getByLabel(/^Reason \(needed/).fill("Six cores is the pilot's limit.");
  await admin.getByRole("button", { name: "Approve", exact: true }).click();
  await expect(admin.getByRole("heading", { name: /Approved by/ })).toBeVisible();

  // The applicant sees the approval, the reason, both quotas and the project.
  await applicant.goto(url);
  await expect(applicant.getByRole("heading", { name: /Approved by/ })).toBeVisible();
  await expect(applicant.getByText("Six cores is the pilot's limit.").first()).toBeVisible();
  await expect(applicant.locator("#project")).toContainText(name);
  const cpu = applicant.getByRole("row", { name: /CPU cores/ });
  await expect(cpu).toContainText("8");
  await expect(cpu).toContainText("6");

  // The project page: it becomes active (hydrated, by itself; without JavaScript, on reload), with its namespace,
  // the granted quota, the applicant as manager, and a link back to the application.
  await applicant.locator("#project a").click();
  await expect(applicant).toHaveURL(new RegExp(`/projects/${name}$`));
  // `.ci/test`'s webhook receiver takes 5 s to answer, like a slow cluster: the applicant watches the project being
  // set up, and (hydrated) the page turns active by itself.
  await expect(applicant.getByRole("heading", { level: 1 })).toContainText("Provisioning");
  await expect(applicant.getByRole("status")).toContainText("Setting up the namespace");
  await expect
    .poll(async () => {
      if (!checkAccessibility) await applicant.reload();
      return applicant.getByRole("heading", { level: 1 }).textContent();
    }, { timeout: 15_000 })
    .toContain("Active");
  await expect(applicant.locator("dd code").first()).toHaveText(name);
  // The granted quota's table comes first; the quota request form has a row per resource too.
  await expect(applicant.getByRole("row", { name: /CPU cores/ }).first()).toContainText("6");
  await expect(applicant.getByRole("row", { name: /Manager/ })).toContainText(address);
  await expect(applicant.getByRole("status")).toHaveCount(0);
  await expect(applicant.getByRole("row", { name: /succeeded/ })).toContainText("webhook");
  if (checkAccessibility) await axe(applicant, "the project page");
  await applicant.getByRole("link", { name: `Application ${id}` }).click();
  await expect(applicant).toHaveURL(new RegExp(`/applications/${id}$`));
  return name;
}

/** The project's manager invites a new person as a viewer, who signs up, accepts and appears on the project. */
async function inviteAndJoin(manager: Page, guest: Page, project: string, checkAccessibility: boolean) {
  const address = `${unique("guest")}@example.org`;
  await manager.goto(`/projects/${project}`);
  await manager.getByLabel("E-mail address").fill(address);
  await manager.getByLabel("Role", { exact: true }).selectOption("viewer");
  await manager.getByRole("button", { name: "Send the invitation" }).click();
  await expect(manager.getByRole("row", { name: new RegExp(address) })).toContainText("Viewer");
  if (checkAccessibility) await axe(manager, "the project page of a manager");
  let link: string | undefined;
  await expect
    .poll(() => {
      link = newestMailLink(address, /https?:\/\/[^\s"<>]+\/invitations\/accept\?token=[A-Za-z0-9_-]+/);
      return link !== undefined;
    }, { timeout: 10_000 })
    .toBe(true);

  await signIn(guest, address);
  await guest.goto(link!);
  if (checkAccessibility) await axe(guest, "the invitation page");
  await guest.getByRole("button", { name: `Join ${project}` }).click();
  await expect(guest).toHaveURL(new RegExp(`/projects/${project}$`));
  await expect(guest.getByRole("row", { name: new RegExp(address) })).toContainText("Viewer");
  await expect(guest.getByText(`${address} joined as viewer`)).toBeVisible();
  await expect(guest.getByRole("button", { name: "Send the invitation" })).toHaveCount(0);
  await manager.goto(`/projects/${project}`);
  await expect(manager.getByRole("row", { name: new RegExp(address) })).toContainText("view");
}

/**
 * The manager asks for a small quota increase, which the second default rule approves at once (the page says which
 * rule), and for a large one, which waits in the admins' queue until an admin approves it on the project page.
 */
async function quotaChanges(manager: Page, admin: Page, project: string, checkAccessibility: boolean) {
  await manager.goto(`/projects/${project}`);
  const requests = manager.locator("#requests");
  await requests.getByLabel("CPU cores").fill("8");
  await requests.getByLabel("Why the project needs it").fill("A second model run in parallel.");
  await requests.getByRole("button", { name: "Ask for this quota" }).click();
  await expect(requests.locator(".request").first()).toContainText("Approved automatically by rule 2: an increase of at most 50%");
  await expect(requests.locator(".request .badge").first()).toHaveText("Approved");
  await expect(manager.getByRole("row", { name: /CPU cores/ }).first()).toContainText("8");

  await requests.getByLabel("CPU cores").fill("20");
  await requests.getByLabel("Why the project needs it").fill("The full ensemble for the report.");
  if (checkAccessibility) {
    // The approved change takes the receiver's 5 s to reach the cluster. The hydrated page notices when it has, but
    // it does not render itself again over a form the manager has typed into: it says so and keeps the typing.
    await expect(manager.getByRole("status").filter({ hasText: "The change has been applied to the cluster" }))
      .toBeVisible({ timeout: 15_000 });
    await expect(requests.getByLabel("CPU cores")).toHaveValue("20");
    await expect(requests.getByLabel("Why the project needs it")).toHaveValue("The full ensemble for the report.");
  }
  await requests.getByRole("button", { name: "Ask for this quota" }).click();
  await expect(requests.locator(".request").first()).toContainText("No rule applied, so an admin decides");
  await expect(requests.locator(".request .badge").first()).toHaveText("Waiting for an admin");
  if (checkAccessibility) await axe(manager, "the project page with a waiting request");

  await admin.goto("/admin/requests");
  if (checkAccessibility) await axe(admin, "the requests queue");
  await admin.getByRole("link", { name: project, exact: true }).click();
  await expect(admin).toHaveURL(new RegExp(`/projects/${project}#requests$`));
  const decide = admin.locator(".decide").first();
  await expect(decide.getByLabel("CPU cores")).toHaveValue("20");
  await decide.getByRole("button", { name: "Approve" }).click();
  await expect(admin.locator("#requests .request .badge").first()).toHaveText("Approved");

  await manager.goto(`/projects/${project}`);
  await expect(manager.getByRole("row", { name: /CPU cores/ }).first()).toContainText("20");
  await expect(manager.locator("#requests .request").first()).toContainText(`By ${adminAddress}`);
}

/** The project page's usage and cost: the twelve-month chart (SVG, with its table) and a statement page. */
async function costAndStatement(manager: Page, project: string, checkAccessibility: boolean) {
  await manager.goto(`/projects/${project}`);
  const cost = manager.locator("section", { has: manager.getByRole("heading", { name: "Usage and cost" }) });
  await expect(cost.getByRole("img", { name: "BU per month over the last twelve months" })).toBeVisible();
  await expect(cost.locator(".months rect")).toHaveCount(12);
  await expect(cost.getByRole("table", { name: "BU per month" }).locator("tbody tr")).toHaveCount(12);
  await expect(cost).toContainText("BU per hour");
  await cost.getByRole("link", { name: "last month" }).click();
  await expect(manager.getByRole("heading", { level: 1 })).toContainText(`Project ${project}: statement for`);
  await expect(manager.getByRole("link", { name: "Download as CSV" })).toBeVisible();
  if (checkAccessibility) await axe(manager, "a statement");
}

test("an application is reviewed, changed, resubmitted and approved with another quota; the manager invites a viewer", async ({ browser }) => {
  // The whole review, provisioning and invitation flow, with seven accessibility scans, takes longer than one page's
  // test.
  test.setTimeout(200_000);
  const applicant = await (await browser.newContext()).newPage();
  const admin = await (await browser.newContext()).newPage();
  const project = await applyReviewApprove(applicant, admin, true);
  await inviteAndJoin(applicant, await (await browser.newContext()).newPage(), project, true);
  await quotaChanges(applicant, admin, project, true);
  await costAndStatement(applicant, project, true);
});

test("the form checks fields as the user types once hydrated", async ({ page }) => {
  await signIn(page, `${unique("typist")}@example.org`);
  await page.goto("/applications/new");
  await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
  await page.getByLabel("Project name").fill("Bad_Name");
  await expect(page.locator("#project_name-error")).toContainText("lower-case");
  await page.getByLabel("Project name").fill("good-name");
  await expect(page.locator("#project_name-error")).toHaveCount(0);
  await page.getByLabel("CPU cores").fill("1000");
  await expect(page.locator("#cpu_cores-error")).toContainText("At most");
  // The cost preview follows the requested quota: 8 cores are 4.2 BU an hour more than the standard 4.
  await page.getByLabel("CPU cores").fill("4");
  await expect(page.locator("#cost-preview")).toContainText("30.152 BU per hour");
  await page.getByLabel("CPU cores").fill("8");
  await expect(page.locator("#cost-preview")).toContainText("34.352 BU per hour");
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("the same flow works with plain forms", async ({ browser }) => {
    test.setTimeout(200_000);
    const options = { javaScriptEnabled: false };
    const applicant = await (await browser.newContext(options)).newPage();
    const admin = await (await browser.newContext(options)).newPage();
    const project = await applyReviewApprove(applicant, admin, false);
    await inviteAndJoin(applicant, await (await browser.newContext(options)).newPage(), project, false);
    await quotaChanges(applicant, admin, project, false);
    await costAndStatement(applicant, project, false);
  });

  test("the cost preview is shown after submit", async ({ page }) => {
    await signIn(page, `${unique("plain-cost")}@example.org`);
    await page.goto("/applications/new");
    await expect(page.locator("#cost-preview")).toContainText("30.152 BU per hour");
    await page.getByLabel("CPU cores").fill("8");
    await page.getByRole("button", { name: "Save draft" }).click();
    await expect(page.locator("#cost-preview")).toContainText("34.352 BU per hour");
  });
});
