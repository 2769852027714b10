// Builds the page into dist/: the JS bundle (ethers included) and the chunks it loads on demand
// (the QR reader), one stylesheet, index.html.
// Everything the page needs at run time is in dist/; nothing is fetched from elsewhere.
//   node build.mjs            production build
//   node build.mjs --check    also fail on i18n keys used but not defined
//   node build.mjs --out DIR  build into web/DIR instead (the audit's fresh build to compare
//                             with what a running API serves; same depth, same bytes)
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const root = dirname(fileURLToPath(import.meta.url));
const src = join(root, "src");
const outAt = process.argv.indexOf("--out");
const dist = join(root, outAt > 0 ? process.argv[outAt + 1] : "dist");

function checkI18n() {
  // i18n.ts and each area's words/<area>.ts (spread into it) define keys in their `zh` block.
  const wordFiles = readdirSync(join(src, "words")).map((f) => join(src, "words", f));
  const zhBlocks = [join(src, "i18n.ts"), ...wordFiles].map((file) => {
    const dict = readFileSync(file, "utf8");
    return dict.slice(dict.indexOf("const zh = {"), dict.indexOf("const en:"));
  });
  const defined = new Set(zhBlocks.flatMap((block) => [...block.matchAll(/^\s*"?([\w.]+)"?:\s*"/gm)].map((m) => m[1])));
  const missing = new Set();
  const files = readdirSync(src, { recursive: true }).filter((f) => f.endsWith(".ts") && !f.endsWith("i18n.ts"));
  const namespaces = new Set([...defined].map((k) => k.split(".")[0]));
  for (const file of files) {
    const text = readFileSync(join(src, file), "utf8");
    for (const m of text.matchAll(/\bt\(\s*"([^"]+)"/g)) if (!defined.has(m[1])) missing.add(`${file}: ${m[1]}`);
    for (const m of text.matchAll(/"([a-z]+\.[A-Za-z.]+)"/g)) {
      const key = m[1];
      if (namespaces.has(key.split(".")[0]) && !defined.has(key) && !key.endsWith(".ts")) missing.add(`${file}: ${key}`);
    }
  }
  if (missing.size) {
    console.error(`i18n keys used but not defined:\n  ${[...missing].join("\n  ")}`);
    process.exit(1);
  }
}

checkI18n();
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
const result = await esbuild.build({
  entryPoints: { app: join(src, "main.ts") },
  bundle: true,
  format: "esm",
  splitting: true,
  chunkNames: "[name]-[hash]",
  target: ["chrome109", "firefox115", "safari16"],
  minify: true,
  sourcemap: "linked",
  legalComments: "linked",
  outdir: dist,
  metafile: true,
  logLevel: "warning",
});
await esbuild.build({
  entryPoints: { app: join(src, "styles.css") },
  bundle: true,
  minify: true,
  outdir: dist,
  logLevel: "warning",
});
const hash = (file) => createHash("sha256").update(readFileSync(join(dist, file))).digest("hex").slice(0, 12);
const html = readFileSync(join(src, "index.html"), "utf8")
  .replace("__JS_HASH__", hash("app.js"))
  .replace("__CSS_HASH__", hash("app.css"));
writeFileSync(join(dist, "index.html"), html);
const bytes = Object.entries(result.metafile.outputs).find(([name]) => name.endsWith("app.js"))[1].bytes;
console.log(`web: built ${dist.slice(root.length + 1)}/ (app.js ${(bytes / 1024).toFixed(0)} KiB)`);
