#!/usr/bin/env node
// A `solc` executable over solc-js (the official compiler built to WebAssembly), so that
// py-solc-x and brownie can drive it offline. It implements the slice of the native CLI they
// use: `--version` and `--standard-json` (input on stdin, output on stdout), accepting
// `--allow-paths`, `--base-path` and `--include-path` to resolve imports from disk.
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require("solc");

function parseArgs(argv) {
  const opts = { roots: [], mode: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.includes("=") ? arg.split(/=(.*)/s) : [arg, undefined];
    const value = () => (inline !== undefined ? inline : argv[++i]);
    switch (flag) {
      case "--version":
        opts.mode = "version";
        break;
      case "--standard-json":
        opts.mode = "standard-json";
        break;
      case "--allow-paths":
        opts.roots.push(...value().split(",").filter(Boolean));
        break;
      case "--base-path":
      case "--include-path":
        opts.roots.push(value());
        break;
      default:
        process.stderr.write(`solc (solc-js shim): unsupported argument ${arg}\n`);
        process.exit(2);
    }
  }
  return opts;
}

function importResolver(roots) {
  const bases = [process.cwd(), ...roots].map((r) => path.resolve(r));
  return (importPath) => {
    for (const base of bases) {
      const candidate = path.resolve(base, importPath);
      // Only read below a directory the caller allowed, as native solc does.
      if (!bases.some((b) => candidate === b || candidate.startsWith(b + path.sep))) continue;
      if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) {
        return { contents: fs.readFileSync(candidate, "utf8") };
      }
    }
    return { error: `File not found: ${importPath}` };
  };
}

const opts = parseArgs(process.argv.slice(2));
if (opts.mode === "version") {
  process.stdout.write(
    `solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`,
  );
} else if (opts.mode === "standard-json") {
  const input = fs.readFileSync(0, "utf8");
  process.stdout.write(solc.compile(input, { import: importResolver(opts.roots) }));
  process.stdout.write("\n");
} else {
  process.stderr.write("usage: solc --version | solc --standard-json [--allow-paths P] [--base-path P]\n");
  process.exit(2);
}
