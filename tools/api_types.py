"""Render the page's API types (web/src/schemas.ts) from the API's OpenAPI document.

    python -m tools.api_types          rewrite web/src/schemas.ts
    python -m tools.api_types --check  exit 1 when the checked-in file differs

Every component schema becomes a TypeScript interface (or a union, for a string enum); pydantic's
`Page[X]` components become the one generic `Page<T>`. tests/api/test_api_types.py fails when
the checked-in file has drifted from `create_app().openapi()`.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

OUTPUT = Path(__file__).resolve().parent.parent / "web" / "src" / "schemas.ts"
PAGE = re.compile(r"^Page_(\w+)_$")
HEADER = """\
// The API's request and response shapes, rendered from its OpenAPI document by
// tools/api_types.py (`python -m tools.api_types`). Do not edit by hand:
// tests/api/test_api_types.py fails when this file differs from the API.
"""


def render(openapi: dict[str, Any]) -> str:
    schemas: dict[str, Any] = openapi["components"]["schemas"]
    blocks: list[str] = []
    pages = [schemas[name] for name in schemas if PAGE.match(name)]
    if pages:
        blocks.append(_page(pages[0]))
    for name in sorted(schemas):
        if not PAGE.match(name):
            blocks.append(_declaration(name, schemas[name]))
    return HEADER + "\n" + "\n".join(blocks)


def _page(schema: dict[str, Any]) -> str:
    """The generic page every `Page[X]` component is an instance of (items: T[])."""
    fields = {**schema["properties"], "items": {"type": "array", "items": {"$ref": "T"}}}
    return "export interface Page<T> " + _object({**schema, "properties": fields}, "") + "\n"


def _declaration(name: str, schema: dict[str, Any]) -> str:
    doc = _doc(schema.get("description"), "")
    if schema.get("type") == "object" and "properties" in schema:
        return f"{doc}export interface {name} {_object(schema, '')}\n"
    return f"{doc}export type {name} = {_type(schema, '')};\n"


def _object(schema: dict[str, Any], indent: str) -> str:
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    inner = indent + "  "
    lines = ["{"]
    for field, sub in properties.items():
        optional = "" if field in required else "?"
        lines.append(_doc(sub.get("description"), inner).rstrip("\n"))
        lines.append(f"{inner}{_key(field)}{optional}: {_type(sub, inner)};")
    lines.append(indent + "}")
    return "\n".join(line for line in lines if line)


def _type(schema: dict[str, Any], indent: str) -> str:
    if "$ref" in schema:
        return _ref(schema["$ref"])
    if "const" in schema:
        return _literal(schema["const"])
    if "enum" in schema:
        return " | ".join(_literal(v) for v in schema["enum"])
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            return " | ".join(_type(s, indent) for s in schema[combinator])
    kind = schema.get("type")
    if kind == "array":
        item = _type(schema.get("items", {}), indent)
        return f"({item})[]" if " | " in item else f"{item}[]"
    if kind == "object":
        if "properties" in schema:
            return _object(schema, indent)
        extra = schema.get("additionalProperties")
        value = _type(extra, indent) if isinstance(extra, dict) and extra else "unknown"
        return f"Record<string, {value}>"
    return {
        "string": "string",
        "integer": "number",
        "number": "number",
        "boolean": "boolean",
        "null": "null",
    }.get(str(kind), "unknown")


def _ref(ref: str) -> str:
    name = ref.rsplit("/", 1)[-1]
    page = PAGE.match(name)
    if page is None:
        return name
    item = page.group(1)
    return f"Page<{'string' if item == 'str' else item}>"


def _literal(value: Any) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _key(field: str) -> str:
    return field if re.fullmatch(r"[A-Za-z_$][\w$]*", field) else _literal(field)


def _doc(text: str | None, indent: str) -> str:
    if not text:
        return ""
    one_line = " ".join(text.split()).replace("*/", "* /")
    return f"{indent}/** {one_line} */\n"


def main(argv: list[str]) -> int:
    from api.main import create_app

    text = render(create_app().openapi())
    if "--check" in argv:
        if OUTPUT.read_text() != text:
            print(f"{OUTPUT} differs from the API; run python -m tools.api_types", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
