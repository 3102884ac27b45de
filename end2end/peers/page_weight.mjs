// Page weight (a measurement, not a test): opens each page given on the command line in a fresh Chromium profile
// (a first visit: nothing cached), waits until it has hydrated, and lists the JavaScript and WebAssembly it fetched.
// Each file's size is then asked for again brotli-compressed, as Berth serves it to browsers that accept brotli
// (Chromium itself only asks for brotli over HTTPS). Prints one JSON object per page:
//   {"page": "/status", "files": [{"url": ..., "raw": bytes, "brotli": bytes}], "raw": total, "brotli": total}
//   node end2end/peers/page_weight.mjs http://127.0.0.1:3000 / /status
import { chromium } from "@playwright/test";

const [base, ...pages] = process.argv.slice(2);
if (!base || pages.length === 0) {
  console.error("usage: page_weight.mjs BASE_URL PATH...");
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  for (const path of pages) {
    const context = await browser.newContext();
    const page = await context.newPage();
    const fetched = new Set();
    page.on("response", (response) => {
      const url = new URL(response.url());
      if (url.origin === new URL(base).origin && /\.(js|wasm)$/.test(url.pathname)) fetched.add(url.href);
    });
    await page.goto(new URL(path, base).href);
    await page.waitForSelector("html[data-hydrated]", { timeout: 30_000 });
    await page.waitForLoadState("networkidle");
    const files = [];
    for (const url of [...fetched].sort()) {
      const raw = (await (await fetch(url, { headers: { "accept-encoding": "identity" } })).arrayBuffer()).byteLength;
      // fetch() would decode the body: ask for the compressed bytes through a raw request instead.
      const brotli = await compressedSize(url, "br");
      files.push({ url: new URL(url).pathname, raw, brotli });
    }
    const sum = (key) => files.reduce((total, file) => total + file[key], 0);
    console.log(JSON.stringify({ page: path, files, raw: sum("raw"), brotli: sum("brotli") }));
    await context.close();
  }
} finally {
  await browser.close();
}

async function compressedSize(url, encoding) {
  const http = await import("node:http");
  return new Promise((resolve, reject) => {
    http.get(url, { headers: { "accept-encoding": encoding } }, (response) => {
      if (response.headers["content-encoding"] !== encoding) {
        reject(new Error(`${url} was not served with ${encoding} (got ${response.headers["content-encoding"]})`));
      }
      let bytes = 0;
      response.on("data", (chunk) => { bytes += chunk.length; });
      response.on("end", () => resolve(bytes));
      response.on("error", reject);
    }).on("error", reject);
  });
}
