"""`python -m api`: serve the API on COMMONS_API_HOST:COMMONS_API_PORT (loopback only)."""

from __future__ import annotations

import sys

from pydantic import ValidationError

from api.main import serve
from ledger.errors import LedgerError

if __name__ == "__main__":
    try:
        serve()
    except (LedgerError, ValidationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        pass
