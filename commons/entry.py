"""The `commons` command's entry point. Loading its modules takes a second or more (web3, the
API's schemas): a Ctrl-C meanwhile is one line and exit 130, as it is everywhere after."""

from __future__ import annotations

import signal
import sys
from types import FrameType

INTERRUPTED = 130  # a shell's status for a command stopped by Ctrl-C (128 + SIGINT)


def main() -> None:
    # While the modules load, a Ctrl-C is only noted, and answered once they have loaded: a
    # KeyboardInterrupt raised inside the import machinery can land in one of its callbacks,
    # where Python prints it as ignored and carries on, so the command would start regardless.
    interrupted: list[int] = []

    def note(signum: int, _frame: FrameType | None) -> None:
        interrupted.append(signum)

    signal.signal(signal.SIGINT, note)
    from commons.cli import app

    signal.signal(signal.SIGINT, signal.default_int_handler)
    if interrupted:
        sys.stderr.write("error: stopped; nothing was started\n")
        raise SystemExit(INTERRUPTED)
    app()
