// How long the page takes to encrypt and prove a secret ballot (web/src/secret/ballot.ts) in
// Debian's headless Chromium, and in node beside it: for each option count, one cold ballot (the
// first, which builds noble's tables for g) and then the median of --runs warm ones; in Chromium
// both with the election key tabled as the page does (secret_ballots.ts) and without. Chromium's
// main-thread CPU time per ballot (DevTools' ThreadTime) is given too: on a shared machine the
// wall clock also counts other processes' work. Every ballot is verified after its timing.
// Prints one JSON object on stdout.
//   node web/tests/secret_bench.mjs [--runs 15] [--options 2,3,5] [--chromium /usr/bin/chromium]
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { chromium } from "playwright-core";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => {
    if (arg.startsWith("--")) pairs.push([arg.slice(2), all[i + 1]]);
    return pairs;
  }, []),
);
const RUNS = Number(args.runs ?? 15);
const OPTIONS = (args.options ?? "2,3,5").split(",").map(Number);
const CHROMIUM = args.chromium ?? process.env.CHROMIUM ?? "/usr/bin/chromium";
const src = join(dirname(fileURLToPath(import.meta.url)), "..", "src");

// The same work in both places: a fresh key (tabled as the page tables it, or not), then one
// cold ballot and `runs` warm ones for option 1, each timed alone.
const WORK = `
import { G, mul, randomScalar, tabled } from "./secret/group";
import { encrypt, verify } from "./secret/ballot";
let made = [];
export function measure(options, runs, withTable) {
  let key = mul(G, randomScalar());
  const before = performance.now();
  if (withTable) key = tabled(key);
  const table = performance.now() - before;
  const statement = {
    context: { chainId: 31337n, contract: 0x5fbdb2315678afecb367f032d93f642f64180aa3n, voteId: 1n },
    key, voter: 0xa11cen, question: 0x51n, options,
  };
  made = [];
  const timed = () => {
    const started = performance.now();
    made.push({ statement, ballot: encrypt(statement, 1).ballot });
    return performance.now() - started;
  };
  const cold = timed();
  const warm = Array.from({ length: runs }, timed);
  return { cold, warm, table };
}
/** Every ballot the last measure made verifies (checked after the timing, outside it). */
export function checkMade() {
  if (!made.every(({ statement, ballot }) => verify(statement, ballot))) throw new Error("a ballot the page made does not verify");
  return made.length;
}
`;

async function bundle(format) {
  const built = await esbuild.build({
    stdin: { contents: WORK, resolveDir: src, loader: "ts" },
    bundle: true,
    format,
    globalName: format === "iife" ? "secretBench" : undefined,
    platform: "browser",
    minify: true,
    write: false,
    logLevel: "silent",
  });
  return built.outputFiles[0].text;
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const summary = ({ cold, warm, table }) => ({
  cold_ms: cold,
  median_ms: median(warm),
  min_ms: Math.min(...warm),
  max_ms: Math.max(...warm),
  table_ms: table,
});

async function inNode() {
  const code = await bundle("esm");
  const module = await import(`data:text/javascript;base64,${Buffer.from(code).toString("base64")}`);
  return Object.fromEntries(
    OPTIONS.map((n) => {
      const row = summary(module.measure(n, RUNS, true));
      module.checkMade();
      return [n, row];
    }),
  );
}

async function inChromium() {
  const code = await bundle("iife");
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"],
  });
  try {
    const page = await browser.newPage();
    await page.setContent("<!doctype html><title>secret ballot bench</title>");
    await page.addScriptTag({ content: code });
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("Performance.enable", { timeDomain: "threadTicks" });
    const threadSeconds = async () => (await cdp.send("Performance.getMetrics")).metrics.find((m) => m.name === "ThreadTime")?.value;
    const figures = {};
    for (const [name, withTable] of [["tabled", true], ["untabled", false]]) {
      figures[name] = {};
      for (const n of OPTIONS) {
        const before = await threadSeconds();
        const measured = await page.evaluate(([options, runs, t]) => globalThis.secretBench.measure(options, runs, t), [n, RUNS, withTable]);
        const after = await threadSeconds();
        const row = summary(measured);
        // The main thread's CPU time over the table, the cold ballot and the warm ones, per
        // ballot: what the wall clock would say on a machine nobody else was using.
        if (before !== undefined && after !== undefined) row.thread_ms_per_ballot = ((after - before) * 1000) / (RUNS + 1);
        figures[name][n] = row;
        await page.evaluate(() => globalThis.secretBench.checkMade());
      }
    }
    return { version: browser.version(), figures };
  } finally {
    await browser.close();
  }
}

const chrome = await inChromium();
const node = await inNode();
process.stdout.write(
  `${JSON.stringify({ runs: RUNS, options: OPTIONS, chromium_version: chrome.version, node_version: process.version, chromium: chrome.figures, node })}\n`,
);
