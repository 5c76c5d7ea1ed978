// End-to-end check of both map views in headless Chromium (Debian's), driven by Playwright.
// Usage: node e2e.mjs BASE_URL OPERATOR_TOKEN DRIVER_TOKEN VEHICLE OUT_DIR
// Prints one JSON line: what each view drew; exits non-zero if a layer is missing.
import { chromium } from "playwright-core";

const [base, operatorToken, driverToken, vehicle, outDir] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const result = {};
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  async function view(name, url, layers) {
    await page.goto(url);
    await page.waitForFunction(
      (names) => document.body.dataset.ready === "1" &&
        names.every((n) => Number(document.body.dataset[n + "Drawn"] || 0) > 0),
      layers, { timeout: 60000 });
    const drawn = await page.evaluate((names) => Object.fromEntries(
      names.map((n) => [n, Number(document.body.dataset[n + "Drawn"])])), layers);
    const panel = await page.textContent("#panel");
    await page.screenshot({ path: `${outDir}/${name}.png` });
    result[name] = { drawn, panel: panel.replace(/\s+/g, " ").trim().slice(0, 300) };
  }
  await view("operator", `${base}/map/operator.html#token=${operatorToken}`,
             ["network", "heat", "vehicles"]);
  await view("driver", `${base}/map/driver.html?vehicle=${vehicle}#token=${driverToken}`,
             ["network", "heat", "route"]);
  result.errors = errors;
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
process.exit(result.errors && result.errors.length ? 1 : 0);
