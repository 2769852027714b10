"""Load and fault injection against the real system.

The real API server (`python -m api`) relays to an anvil run by the real supervisor
(`python -m ledger.node`, snapshots and all); a load generator in its own process offers signed
ballots and time-bank service records at a fixed rate, while faults are injected: kill -9 of the
chain (which rewinds it to its last snapshot), of the API, of both, a torn newest snapshot, a
full disk under the data directory, and a relayer without gas money. Afterwards the chain itself
is read to show that every acknowledged message landed exactly once.

    python -m stress                # make stress: calibrate, minutes of load, every fault
    python -m stress --short        # the version inside make test (tests/stress)
"""
