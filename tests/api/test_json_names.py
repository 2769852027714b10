"""One JSON naming convention: every field the API takes or answers is camelCase, as the signed
EIP-712 messages and the page name them (docs/architecture.md, "The API's shape")."""

from __future__ import annotations

import re
from typing import Any

from api.main import create_app

CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]*$")


def _fields(schema: dict[str, Any]) -> list[str]:
    return list(schema.get("properties", {}))


def test_every_schema_field_is_camel_case() -> None:
    schemas = create_app().openapi()["components"]["schemas"]
    offending = {
        name: [f for f in _fields(schema) if not CAMEL.match(f)] for name, schema in schemas.items()
    }
    assert {name: fields for name, fields in offending.items() if fields} == {}
