import { test, expect, type Page } from "@playwright/test";
import { axe, signIn, unique } from "./support";

// `.ci/test` makes this address an admin as well; a test of its own, so that it does not end the other admin's links.
const statusAdmin = process.env.E2E_STATUS_ADMIN_EMAIL ?? "e2e-status-admin@example.org";

test.describe.configure({ mode: "serial" });

/** The open incident card of `title` on the admins' page. */
function adminIncident(page: Page, title: string) {
  return page.getByRole("article").filter({ has: page.getByRole("heading", { level: 3, name: title }) });
}

test("an admin opens an incident, the public page, feed and JSON show it, and resolving it restores the component", async ({ browser }) => {
  const admin = await (await browser.newContext()).newPage();
  const visitor = await (await browser.newContext()).newPage();
  const title = unique("Registry pushes fail");
  await signIn(admin, statusAdmin);

  // One short form.
  await admin.goto("/admin/status");
  await expect(admin.locator("html")).toHaveAttribute("data-hydrated", "true");
  await admin.locator("#incident-title").fill(title);
  const impacts = admin.getByRole("group", { name: "Affected components" }).first();
  await impacts.getByLabel("Image registry").selectOption({ label: "Major outage" });
  await admin.getByLabel("What users notice, and what is being done").fill("Pushes of new images fail; pulls work.");
  await admin.getByRole("button", { name: "Open the incident" }).click();
  await expect(admin.getByRole("status")).toContainText("The incident is open");
  await axe(admin, "admin status");

  await visitor.goto("/status");
  const open = visitor.getByRole("region", { name: "Open incidents" });
  await expect(open.getByRole("heading", { name: title })).toBeVisible();
  await expect(open).toContainText("Image registry (major outage)");
  const registry = visitor.locator("li.component").filter({ hasText: "Image registry" });
  await expect(registry).toContainText("Major outage");
  await axe(visitor, "status with an incident");

  const json = await (await visitor.request.get("/status.json")).json();
  expect(json.schema_version).toBe(2);
  expect(json.incidents.map((incident: { title: string }) => incident.title)).toContain(title);
  const feed = await (await visitor.request.get("/status/incidents.atom")).text();
  expect(feed).toContain(title);

  // Resolved, it leaves the open incidents and the component is operational again.
  const card = adminIncident(admin, title);
  await card.getByLabel("Status from now on").selectOption({ label: "Resolved" });
  await card.getByLabel("Update", { exact: true }).fill("Fixed: the registry's storage was full.");
  await card.getByRole("button", { name: "Post the update" }).click();
  await expect(adminIncident(admin, title)).toHaveCount(0);

  await visitor.goto("/status");
  await expect(visitor.locator("li.component").filter({ hasText: "Image registry" })).toContainText("Operational");
  await expect(visitor.getByRole("region", { name: "Open incidents" })).toHaveCount(0);
  const resolved = await (await visitor.request.get("/status.json")).json();
  const incident = resolved.incidents.find((incident: { title: string }) => incident.title === title);
  expect(incident.status).toBe("resolved");
});

test("a user sends feedback from a page's footer and sees the admins' reply", async ({ browser }) => {
  const user = await (await browser.newContext()).newPage();
  const admin = await (await browser.newContext()).newPage();
  const words = unique("The quota page is slow to load");
  await signIn(user, `${unique("reporter")}@example.org`);
  await user.goto("/status");
  await user.getByRole("link", { name: "Report a problem or make a suggestion" }).click();
  await expect(user).toHaveURL(/\/feedback\?from=\/status$/);
  await expect(user.getByLabel("Where (the page you were on)")).toHaveValue("/status");
  await user.getByLabel("What happened, or what would help?").fill(words);
  await user.getByLabel("Which part of the service (optional)").selectOption({ label: "Web console" });
  await user.getByRole("button", { name: "Send" }).click();
  await expect(user.getByRole("status")).toContainText("Thank you");
  const mine = user.getByRole("article").filter({ hasText: words });
  await expect(mine).toContainText("New");
  await axe(user, "feedback");

  await signIn(admin, statusAdmin);
  await admin.goto("/admin/feedback?status=new");
  const item = admin.getByRole("article").filter({ hasText: words });
  await expect(item).toBeVisible();
  const form = item.locator("xpath=following-sibling::form[1]");
  await form.getByLabel("State").selectOption({ label: "Planned" });
  await form.getByLabel(/Reply/).fill("Thanks: a faster query ships next week.");
  await form.getByRole("button", { name: "Save" }).click();
  await expect(admin.getByRole("article").filter({ hasText: words })).toHaveCount(0);

  await user.goto("/feedback");
  const answered = user.getByRole("article").filter({ hasText: words });
  await expect(answered).toContainText("Planned");
  await expect(answered).toContainText("Thanks: a faster query ships next week.");
});
