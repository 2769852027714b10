"""The build's reading of public integer constants (ledger/protocol/extract.py) on hand-made
ASTs in solc's shape: each form it derives, what it leaves out, and a name with two values."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.protocol.extract import _numbers

Node = dict[str, Any]


def _literal(value: str, unit: str | None = None) -> Node:
    node: Node = {"nodeType": "Literal", "kind": "number", "value": value}
    if unit is not None:
        node["subdenomination"] = unit
    return node


def _type_max(name: str) -> Node:
    type_call = {
        "nodeType": "FunctionCall",
        "expression": {"nodeType": "Identifier", "name": "type"},
        "arguments": [{"nodeType": "ElementaryTypeNameExpression", "typeName": {"name": name}}],
    }
    return {"nodeType": "MemberAccess", "memberName": "max", "expression": type_call}


def _constant(name: str, value: Node, visibility: str = "public", id_: int = 0) -> Node:
    return {
        "nodeType": "VariableDeclaration",
        "id": id_,
        "name": name,
        "constant": True,
        "visibility": visibility,
        "value": value,
    }


def _source(*contracts: tuple[str, list[Node]], file_level: tuple[Node, ...] = ()) -> Node:
    nodes = [*file_level]
    nodes += [{"nodeType": "ContractDefinition", "name": n, "nodes": body} for n, body in contracts]
    return {"nodeType": "SourceUnit", "nodes": nodes}


def test_each_derived_form_and_nothing_else() -> None:
    lifetime = _constant("LIFETIME", _literal("400", "days"), "internal", id_=7)
    ast = _source(
        ("A", [
            _constant("GRACE", _literal("30", "days")),
            _constant("HOUR", _literal("1", "hours")),
            _constant("BIG", _literal("1_000")),
            _constant("MASK", _literal("0xff")),
            _constant("NONE", _type_max("uint8")),
            _constant("WIDE", _type_max("uint")),
            _constant("SNAPSHOT", {"nodeType": "Identifier", "referencedDeclaration": 7}),
            _constant("HIDDEN", _literal("5"), "private"),
            _constant("HALF", _literal("0.5")),
            _constant("ETHER", _literal("1", "ether")),
            _constant("SUM", {"nodeType": "BinaryOperation"}),
        ]),
        file_level=(lifetime,),
    )  # fmt: skip
    numbers = {name: entry["value"] for name, entry in _numbers([ast]).items()}
    assert numbers == {
        "BIG": 1000,
        "GRACE": 30 * 86_400,
        "HOUR": 3_600,
        "MASK": 255,
        "NONE": 255,
        "SNAPSHOT": 400 * 86_400,
        "WIDE": 2**256 - 1,
    }


def test_one_name_declared_by_several_contracts_is_one_constant_or_stops_the_build() -> None:
    same = _source(
        ("A", [_constant("LIMIT", _literal("2"))]), ("B", [_constant("LIMIT", _literal("2"))])
    )
    assert _numbers([same])["LIMIT"] == {"value": 2, "contracts": ["A", "B"]}
    other = _source(
        ("A", [_constant("LIMIT", _literal("2"))]), ("B", [_constant("LIMIT", _literal("3"))])
    )
    with pytest.raises(ValueError, match="constant LIMIT is 2 in \\['A'\\] but 3 in B"):
        _numbers([other])
