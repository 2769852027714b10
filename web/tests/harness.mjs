// What every browser story shares: the command line, the stdio conversation with its pytest
// driver (tests/e2e/browser.py), Debian's Chromium, steps with a screenshot on failure, axe-core,
// and the page's own signals (a view has finished drawing when data-renders goes up).
//
// A story imports these, calls `launch()` once, runs its steps, and ends with `finish()`. Every
// story is its own node process, so the page it drives is module state here.
//
// Stdio: a story prints one JSON line per event on stdout ({"event": "need", "need": NAME, ...}
// asks the driver for what only the chain's operator can do and waits for one line back: "ok" or
// JSON; {"event": "step", ...}; last {"event": "done", ...}). Logs go to stderr.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { Wallet } from "ethers";
import { chromium } from "playwright-core";
import qrcode from "qrcode-generator";

export const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => {
    if (arg.startsWith("--")) pairs.push([arg.slice(2), all[i + 1]?.startsWith("--") ? "true" : (all[i + 1] ?? "true")]);
    return pairs;
  }, []),
);
export const BASE = (args["base-url"] ?? "http://127.0.0.1:8000").replace(/\/$/, "");
export const OUT = resolve(args.out ?? "test-artifacts/web");
export const SEED = args.seed ? JSON.parse(readFileSync(args.seed, "utf8")) : null;
export const TIMEOUT = Number(args.timeout ?? 60_000);
const AXE = readFileSync(new URL("../node_modules/axe-core/axe.min.js", import.meta.url), "utf8");
const CHROMIUM = args.chromium ?? process.env.CHROMIUM ?? "/usr/bin/chromium";

export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1280, height: 900 };

mkdirSync(OUT, { recursive: true });
export const log = (...parts) => process.stderr.write(`[story ${new Date().toISOString().slice(11, 23)}] ${parts.join(" ")}\n`);
export const emit = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);

const stdinLines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

/** Ask the driver for `name` (an operator's act) and wait for its answer ({} for "ok"). */
export async function need(name, extra = {}) {
  emit({ event: "need", need: name, ...extra });
  const { value, done } = await stdinLines.next();
  if (done) throw new Error(`no answer on stdin for need ${name}`);
  const answer = value.trim();
  if (answer !== "ok" && !answer.startsWith("{")) throw new Error(`caller refused need ${name}: ${answer}`);
  return answer === "ok" ? {} : JSON.parse(answer);
}

/** What the story found; written to OUT/story.json and sent as the "done" event. */
export const result = { ok: false, base: BASE, steps: [], screenshots: [], requests: 0, external: [], leaks: [], a11y: {} };
/** Every request the browser made (url, method, headers, body), for the secret and origin checks. */
export const requests = [];
/** Errors the page logged or threw. */
export const consoleErrors = [];

/** The page being driven (set by `launch`). */
export let page;
let context;
let profile;
let shotNo = 0;

export function expect(condition, message) {
  if (!condition) throw new Error(`expectation failed: ${message}`);
}

export const tid = (id) => `[data-testid="${id}"]`;

/** Debian's Chromium, headless, with a fresh profile; the flags keep it off the network.
 * `extraArgs` adds flags (a TLS story trusts its proxy's key with --ignore-certificate-errors-spki-list). */
export async function launch({ locale = "zh-CN", viewport = DESKTOP, ignoreHTTPSErrors = false, extraArgs = [] } = {}) {
  profile = mkdtempSync(join(tmpdir(), "commons-web-"));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    acceptDownloads: true,
    locale,
    ignoreHTTPSErrors,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-quic",
      "--disable-dev-shm-usage",
      ...extraArgs,
    ],
  });
  context.setDefaultTimeout(TIMEOUT);
  page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error") consoleErrors.push(m.text());
  });
  context.on("request", (r) => {
    requests.push({ url: r.url(), method: r.method(), headers: r.headers(), body: r.postData() ?? "" });
  });
  return page;
}

/** A photo of a QR code holding `text` (a GIF in OUT named `name`), for a page's file input. */
export function qrPhoto(text, name) {
  const code = qrcode(0, "M");
  code.addData(text);
  code.make();
  const photo = join(OUT, name);
  writeFileSync(photo, Buffer.from(code.createDataURL(8, 4).split(",")[1], "base64"));
  return photo;
}

/** A full-page screenshot in OUT, numbered in story order. */
export async function shot(name, { fullPage = true } = {}) {
  shotNo += 1;
  const file = `${String(shotNo).padStart(2, "0")}-${name}.png`;
  await page.screenshot({ path: join(OUT, file), fullPage });
  result.screenshots.push(file);
  return file;
}

/** One named step: timed, reported, and on failure a FAILED-<name>.png before the error goes on. */
export async function step(name, work) {
  const started = Date.now();
  log(`step ${name}`);
  try {
    const detail = await work();
    result.steps.push({ name, ok: true, ms: Date.now() - started, ...(detail ?? {}) });
    emit({ event: "step", name, ok: true, ms: Date.now() - started });
  } catch (error) {
    result.steps.push({ name, ok: false, ms: Date.now() - started, error: String(error?.stack ?? error) });
    emit({ event: "step", name, ok: false, error: String(error?.message ?? error) });
    try {
      await page.screenshot({ path: join(OUT, `FAILED-${name}.png`), fullPage: true });
    } catch {
      // the page itself may be gone
    }
    throw error;
  }
}

/** axe-core's WCAG 2.1 A/AA and best-practice rules on the current view; any violation fails. */
export async function accessible(name) {
  // Evaluated through the DevTools protocol, which the page's CSP does not govern.
  if (!(await page.evaluate(() => "axe" in window))) await page.evaluate(AXE);
  const report = await page.evaluate(() =>
    window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] } }),
  );
  const violations = report.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5) }));
  const impacts = { critical: 0, serious: 0, moderate: 0, minor: 0 };
  for (const v of report.violations) impacts[v.impact ?? "minor"] += 1;
  result.a11y[name] = { passes: report.passes.length, impacts, violations };
  expect(violations.length === 0, `accessibility of ${name}: ${JSON.stringify(violations)}`);
}

/** Do `action`, then wait until the page has finished drawing the view it causes. */
export async function settled(action) {
  const before = await page.evaluate(() => Number(document.documentElement.dataset.renders ?? 0));
  await action();
  // A render already under way (one the page started itself) finishes after ours: until it has,
  // <main> is aria-busy, and what is typed into the view now would be drawn over.
  await page.waitForFunction(
    (b) => Number(document.documentElement.dataset.renders ?? 0) > b && !document.getElementById("main")?.hasAttribute("aria-busy"),
    before,
  );
}

/** Open the view at `hash` (redrawing it if it is already open) and wait for it. */
export async function go(hash) {
  await settled(() =>
    page.evaluate((h) => {
      if (location.hash === h) window.dispatchEvent(new HashChangeEvent("hashchange"));
      else location.hash = h;
    }, hash),
  );
}

export async function setLanguage(lang) {
  const want = lang === "zh" ? "zh-CN" : "en";
  if ((await page.getAttribute("html", "lang")) === want) return;
  await settled(() => page.click(tid("lang-toggle")));
  await page.waitForFunction((w) => document.documentElement.lang === w, want);
}

/** Sideways overflow of the page body, in CSS pixels (a phone must have none). */
export function overflow() {
  return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}

/** The elements reaching past the right edge (for a failure's message). */
export function widest() {
  return page.evaluate(() =>
    Array.from(document.querySelectorAll("body *"))
      .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1)
      .slice(-5)
      .map((el) => `${el.tagName.toLowerCase()}.${el.className?.baseVal ?? el.className}[${el.dataset?.testid ?? ""}] ${Math.round(el.getBoundingClientRect().right)}`)
      .join(", "),
  );
}

/** Controls smaller than 44×44 CSS px (WCAG 2.5.5's size; inline links in text are exempt). */
export function smallTargets() {
  return page.evaluate(() => {
    const selector = 'button, select, input:not([type="checkbox"]):not([type="radio"]):not([type="hidden"]), nav a, a.button-link, summary, label.option';
    return Array.from(document.querySelectorAll(selector))
      .map((el) => ({ el, r: el.getBoundingClientRect() }))
      .filter(({ r }) => r.width > 0 && r.height > 0 && (r.width < 43.5 || r.height < 43.5))
      .map(({ el, r }) => `${el.tagName.toLowerCase()}[${el.dataset.testid ?? el.textContent.trim().slice(0, 24)}] ${Math.round(r.width)}x${Math.round(r.height)}`);
  });
}

/** Type `address` into the person picker `testid` (its "details", opened if closed): for
 * someone with no name to find, such as a new officer or a contractor. */
export async function typeAddress(testid, address) {
  const details = page.locator(tid(`${testid}-details`));
  if (!(await details.evaluate((d) => d.open))) await page.click(`${tid(`${testid}-details`)} > summary`);
  await page.fill(tid(testid), address);
}

/** Unlock the active key with `passphrase` if the page asks, and wait for `done` (a locator). */
export async function unlockIfAsked(passphrase, done) {
  const dialog = page.locator(tid("unlock-dialog"));
  await Promise.race([dialog.waitFor(), done.waitFor({ timeout: 90_000 })]);
  if (await dialog.isVisible()) {
    await page.fill(tid("unlock-passphrase"), passphrase);
    await page.click(tid("unlock-submit"));
  }
  await done.waitFor({ timeout: 90_000 });
}

/** Click `testid`, then unlockIfAsked. */
export async function pressAndUnlock(testid, passphrase, done) {
  await page.click(tid(testid));
  await unlockIfAsked(passphrase, done);
}

/** Make `address` (a key already in the page) the active one. */
export async function useKey(address) {
  await settled(() => page.selectOption(tid("key-select"), address));
  await page.waitForFunction((a) => document.querySelector('[data-testid="active-address"]')?.textContent === a, address);
}

/** Import a raw private key into the page under `label`, kept with `passphrase`; its address. */
export async function importRaw(key, label, passphrase) {
  await go("#/keys");
  await page.fill(tid("import-raw-key"), key);
  await page.fill(tid("import-raw-label"), label);
  await page.fill(tid("import-raw-passphrase"), passphrase);
  await page.fill(tid("import-raw-confirm"), passphrase);
  // Enter submits the form, as a keyboard does: the keys view's panels above the form fill in as
  // their data arrives, and a pointer click aimed at the button could land where it no longer is.
  await page.press(tid("import-raw-confirm"), "Enter");
  const address = new Wallet(key).address;
  await page.locator(`${tid("key-card")}[data-address="${address}"]`).waitFor({ timeout: TIMEOUT });
  return address;
}

/** Create a key in the page (kept with `passphrase`); its address. */
export async function createKey(label, passphrase) {
  await go("#/keys");
  const before = await page.locator(tid("key-card")).count();
  await page.fill(tid("create-label"), label);
  await page.fill(tid("create-passphrase"), passphrase);
  await page.fill(tid("create-confirm"), passphrase);
  await page.press(tid("create-confirm"), "Enter"); // as importRaw, for the same reason
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid="key-card"]').length > n, before);
  return page.locator(tid("active-address")).textContent();
}

/**
 * The checks every story ends with: no secret in any request or in localStorage, no request to
 * another origin. `secrets` are private keys (0x hex) and passphrases.
 */
export async function noSecretLeft(secrets) {
  const needles = secrets
    .filter(Boolean)
    .flatMap((s) => {
      const low = s.toLowerCase();
      return low.startsWith("0x") ? [low, low.slice(2)] : [low, encodeURIComponent(s).toLowerCase()];
    });
  const stored = (await page.evaluate(() => JSON.stringify({ ...localStorage }))).toLowerCase();
  for (const needle of needles) if (stored.includes(needle)) result.leaks.push({ url: "localStorage", method: "-" });
  for (const r of requests) {
    const haystack = `${r.url}\n${JSON.stringify(r.headers)}\n${r.body}`.toLowerCase();
    for (const needle of needles) if (haystack.includes(needle)) result.leaks.push({ url: r.url, method: r.method });
    if (!r.url.startsWith(BASE) && !r.url.startsWith("blob:") && !r.url.startsWith("data:")) result.external.push(r.url);
  }
  result.requests = requests.length;
  result.posts = requests.filter((r) => r.method !== "GET").length;
  expect(result.leaks.length === 0, `no secret in any request: ${JSON.stringify(result.leaks)}`);
  expect(result.external.length === 0, `no request left the site: ${result.external.join(", ")}`);
}

/** Run `story` (an async function of no arguments), then write story.json, report and exit. */
export async function run(story, extra = () => ({})) {
  try {
    await story();
    result.ok = true;
  } catch (error) {
    result.error = String(error?.message ?? error);
    log(`FAILED: ${result.error}`);
  } finally {
    result.consoleErrors = consoleErrors.filter((e) => !/Failed to load resource|net::ERR_/.test(e));
    Object.assign(result, extra());
    writeFileSync(join(OUT, "story.json"), JSON.stringify(result, null, 2));
    emit({ event: "done", ...result });
    await context?.close().catch(() => undefined);
    if (profile) rmSync(profile, { recursive: true, force: true });
  }
  process.exit(result.ok ? 0 : 1);
}

process.on("unhandledRejection", (error) => {
  log(`crashed: ${error?.stack ?? error}`);
  emit({ event: "done", ok: false, error: String(error) });
  process.exit(2);
});
