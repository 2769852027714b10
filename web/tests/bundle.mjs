// The page's TypeScript sources, bundled on the fly by esbuild as the page build does, and
// imported as one module: what the node tests of the page's pure pieces check.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

export const src = join(dirname(fileURLToPath(import.meta.url)), "..", "src");

/** The module whose source is `contents` (re-exports from web/src, paths relative to it). */
export async function importSources(contents) {
  const built = await esbuild.build({
    stdin: { contents, resolveDir: src, loader: "ts" },
    bundle: true,
    format: "esm",
    platform: "browser",
    write: false,
    logLevel: "silent",
  });
  return import(`data:text/javascript;base64,${Buffer.from(built.outputFiles[0].text).toString("base64")}`);
}
