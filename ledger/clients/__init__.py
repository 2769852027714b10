"""One typed client per contract (calls, transaction building, event decoding)."""

from ledger.clients.council import CouncilClient
from ledger.clients.registry import RegistryClient

__all__ = ["CouncilClient", "RegistryClient"]
