"""Commons Ledger's HTTP front door: a FastAPI facade over ledger/."""
