// cargo-leptos starts the server and the tests at the same time: wait until Berth answers.
export default async function globalSetup(): Promise<void> {
  const base = process.env.E2E_BASE_URL ?? "http://127.0.0.1:3000";
  const deadline = Date.now() + 120_000;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${base}/readyz`);
      if (response.ok) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`Berth did not become ready at ${base} within 120 s (last: ${last})`);
}
