"""The `commons` command's entry point. Loading its modules takes a second or more (web3, the
API's schemas): a Ctrl-C meanwhile is one line and exit 130, as it is everywhere after."""

from __future__ import annotations

import sys

INTERRUPTED = 130  # a shell's status for a command stopped by Ctrl-C (128 + SIGINT)


def main() -> None:
    try:
        from commons.cli import app
    except KeyboardInterrupt:
        sys.stderr.write("error: stopped; nothing was started\n")
        raise SystemExit(INTERRUPTED) from None
    app()
