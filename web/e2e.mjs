// End-to-end check of both map views in headless Chromium (Debian's), driven by Playwright.
// Usage: node e2e.mjs BASE_URL OPERATOR_TOKEN DRIVER_TOKEN VEHICLE OUT_DIR [STATES_JSON]
// STATES_JSON: [{"name", "vehicle", "token", "state"}]: driver pages expected in each state.
// Prints one JSON line: what each view drew and said; exits non-zero on a page error.
import { chromium } from "playwright-core";

const [base, operatorToken, driverToken, vehicle, outDir, statesJson] = process.argv.slice(2);
const states = JSON.parse(statesJson || "[]");
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
    result[name] = { drawn, panel: panel.replace(/\s+/g, " ").trim().slice(0, 800) };
  }
  await view("operator", `${base}/map/operator.html#token=${operatorToken}`,
             ["network", "heat", "vehicles"]);
  await view("driver", `${base}/map/driver.html?vehicle=${vehicle}#token=${driverToken}`,
             ["network", "heat", "route"]);
  // The operator switches the demand layer to road segments.
  await page.goto(`${base}/map/operator.html#token=${operatorToken}`);
  await page.waitForFunction(() => document.body.dataset.ready === "1", null, { timeout: 60000 });
  await page.check("input[name=unit][value=road]");
  await page.waitForFunction(() => document.body.dataset.heatUnit === "road" &&
    Number(document.body.dataset.heatDrawn || 0) > 0, null, { timeout: 60000 });
  result.operator_road = { drawn: Number(await page.evaluate(() => document.body.dataset.heatDrawn)) };
  await page.screenshot({ path: `${outDir}/operator-road.png` });
  for (const s of states) {  // each driver state, in words
    await page.goto(`${base}/map/driver.html?vehicle=${s.vehicle}#token=${s.token}`);
    await page.waitForFunction((want) => document.body.dataset.driverState === want, s.state,
                               { timeout: 60000 });
    result["driver_" + s.name] = {
      state: await page.evaluate(() => document.body.dataset.driverState),
      words: (await page.textContent("#state")).trim(),
      clock: (await page.textContent("#clock")).trim(),
    };
    await page.screenshot({ path: `${outDir}/driver-${s.name}.png` });
  }
  result.errors = errors;
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
process.exit(result.errors && result.errors.length ? 1 : 0);
