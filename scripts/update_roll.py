"""`brownie run scripts/update_roll.py main COMMUNITY ADDED_FILE [REMOVED_FILE] [SIGNER]`: add the
residents listed in ADDED_FILE (one address a line; "-" for none), take off those in
REMOVED_FILE, and publish the roll. REGISTRAR only. `commons roll import` does the same from a
CSV in batches, with the people recorded off-chain."""

from __future__ import annotations

from commons.acts import ADDRESS
from ledger import admin
from scripts.admin_acts import one_line_errors, read_text, run_act


def _addresses(path: str) -> list[str]:
    if path == "-":
        return []
    with one_line_errors():
        lines = read_text(path).split()
        for n, line in enumerate(lines, start=1):
            if not ADDRESS.match(line):
                raise admin.AdminRefused(f"{path}: entry {n} is not an address: {line!r}")
        return lines


def main(community: str, added: str, removed: str = "-", signer: str = "0") -> None:
    call = admin.update_roll(int(community), _addresses(added), _addresses(removed), True)
    run_act(call, signer)
