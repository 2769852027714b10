"""`make bench` / `python -m bench`: every benchmark in turn, each writing its own
bench/results/<name>.json and .md; then bench/results/SUMMARY.md gathers the Markdown.

    python -m bench [NAME ...]

(names: gas_council gas_elections gas_budget gas_fund gas_initiatives gas_secret api_load
audit audit_budget audit_secret secret_crypto secret_page)
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

BENCHES = (
    "gas_council",
    "gas_elections",
    "gas_budget",
    "gas_fund",
    "gas_initiatives",
    "gas_secret",
    "api_load",
    "audit",
    "audit_budget",
    "audit_secret",
    "secret_crypto",
    "secret_page",
)
RESULTS = Path(__file__).parent / "results"


def main() -> int:
    names = sys.argv[1:] or list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        print(
            f"error: unknown benchmark {', '.join(unknown)} (known: {', '.join(BENCHES)})",
            file=sys.stderr,
        )
        return 2
    failed = []
    for name in names:
        if not (Path(__file__).parent / f"{name}.py").exists():
            print(f"== {name}: not present, skipped", file=sys.stderr)
            continue
        print(f"== {name}", file=sys.stderr, flush=True)
        started = time.monotonic()
        if subprocess.run([sys.executable, "-m", f"bench.{name}"]).returncode != 0:
            failed.append(name)
        print(f"== {name}: {time.monotonic() - started:.0f} s", file=sys.stderr)
    parts = [p.read_text() for p in (RESULTS / f"{n}.md" for n in BENCHES) if p.exists()]
    (RESULTS / "SUMMARY.md").write_text("\n\n".join(parts))
    if failed:
        print(f"error: benchmarks failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"results in {RESULTS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
