"""`python -m stress`: calibrate the sustainable rate, hold it for minutes, inject every fault
under load, then prove from the chain that each acknowledged message landed exactly once.

Writes stress/results/<name>.json (everything) and <name>.md (one screen); exits 1 on any lost,
duplicated or phantom message, a receipt the chain contradicts, an index that did not roll back,
or an unclean audit.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from types import FrameType

from stress.faults import FAULTS
from stress.run import RESULTS, Config, execute


def short_config(name: str = "stress-short", rate: float = 120.0) -> Config:
    """The version inside `make test`: fixed modest rate, every fault, about two minutes."""
    return Config(
        rate=rate,
        load_s=20,
        faults=list(FAULTS),
        fault_gap_s=10,
        fault_hold_s=4,
        tail_s=6,
        proposals=2,
        tmpfs_mb=1024,
        name=name,
    )


def full_config(rate: float | None, load_s: float) -> Config:
    return Config(
        rate=rate,
        load_s=load_s,
        faults=list(FAULTS),
        fault_gap_s=30,
        fault_hold_s=10,
        tail_s=20,
        tmpfs_mb=6144,
        name="stress",
    )


def _interrupted(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--short", action="store_true", help="the ~2 minute version")
    parser.add_argument("--rate", type=float, help="messages/s to offer (default: calibrate)")
    parser.add_argument("--load-s", type=float, default=180.0, help="load before the faults")
    parser.add_argument("--faults", help=f"comma-separated subset of {','.join(FAULTS)}")
    parser.add_argument(
        "--service-every",
        type=int,
        help="every Nth message is a service record (default 10; 0: ballots only)",
    )
    parser.add_argument("--name", help="results file name (default: stress / stress-short)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--keep", action="store_true", help="keep the run directory (logs)")
    args = parser.parse_args()
    config = (
        short_config(rate=args.rate or 120.0) if args.short else full_config(args.rate, args.load_s)
    )
    if args.service_every is not None:
        if args.service_every < 0:
            parser.error("--service-every must be 0 or more")
        config.service_every = args.service_every
    if args.name:
        config.name = args.name
    if args.faults is not None:
        config.faults = [f for f in args.faults.split(",") if f]
        unknown = set(config.faults) - set(FAULTS)
        if unknown:
            parser.error(f"unknown faults: {', '.join(sorted(unknown))}")
    # SIGTERM (e.g. from make or CI) unwinds like Ctrl-C, so every process we started is stopped.
    signal.signal(signal.SIGTERM, _interrupted)
    results = execute(config, args.out, keep_run_dir=args.keep, argv=sys.argv[1:])
    sys.exit(0 if results["ok"] else 1)


if __name__ == "__main__":
    main()
