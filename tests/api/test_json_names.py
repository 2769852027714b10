"""One JSON naming convention: every field the API takes or answers is camelCase, as the signed
EIP-712 messages and the page name them (docs/architecture.md, "The API's shape")."""

from __future__ import annotations

import re
from typing import Any

from api.main import create_app

# Not yet converted: the relay's receipts and acknowledgements (the acknowledgement's JSON is
# what ledger/signing/acks.py writes and `commons audit --acks` reads, a format residents keep).
SNAKE_CASE_YET: frozenset[str] = frozenset({"AckOut", "ReceiptOut", "AcksPage"})
CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]*$")


def _fields(schema: dict[str, Any]) -> list[str]:
    return list(schema.get("properties", {}))


def test_every_schema_field_is_camel_case() -> None:
    schemas = create_app().openapi()["components"]["schemas"]
    offending = {
        name: [f for f in _fields(schema) if not CAMEL.match(f)]
        for name, schema in schemas.items()
        if name not in SNAKE_CASE_YET
    }
    assert {name: fields for name, fields in offending.items() if fields} == {}


def test_the_relay_schemas_left_in_snake_case_are_still_there() -> None:
    """When a listed schema is converted or renamed, SNAKE_CASE_YET must shrink with it."""
    schemas = create_app().openapi()["components"]["schemas"]
    assert set(schemas) >= SNAKE_CASE_YET
    assert all(any("_" in f for f in _fields(schemas[name])) for name in SNAKE_CASE_YET)
