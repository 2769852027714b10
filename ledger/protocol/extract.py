"""What the compiled contracts say about the protocol, read from solc's standard-JSON output.

The build calls `describe` on the compiler's output and keeps the result (build/ledger/
protocol.json); `ledger.protocol.render` writes the typed modules from it. Everything here comes
from the ABIs of the deployed contracts and the ASTs of the sources:

- EIP-712 type strings: every constant `*TYPEHASH` / `TYPE_HASH` = keccak256("<type string>");
- EIP-712 domains: the literal (name, version) each contract hands to EIP712's constructor,
  followed through base constructors (CommonsForwarder → ERC2771Forwarder(name) → EIP712);
- roles: every constant `X = keccak256("X")` in our sources;
- enums (with member names) declared in our sources;
- numbers: every public integer constant of our contracts whose value is a number literal (with
  its unit: `30 days`), `type(uintN).max`, or another such constant (a file-level one), by name;
- events, functions, custom errors and the structs they carry, from the ABIs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

OWN_PREFIX = "contracts/"
_TYPEHASH_NAME = re.compile(r"TYPE_?HASH$")
_TYPE_STRING = re.compile(r"(\w+)\((.*)\)")

Node = dict[str, Any]


def describe(output: dict[str, Any]) -> dict[str, Any]:
    """The protocol facts in solc's output (with `abi` and source `ast` selected), as JSON."""
    asts = [src["ast"] for src in output.get("sources", {}).values() if "ast" in src]
    own_asts = [
        src["ast"] for name, src in output.get("sources", {}).items() if name.startswith(OWN_PREFIX)
    ]
    deployed = _deployed_abis(output)
    return {
        "contracts": sorted(deployed),
        "domains": _domains(asts, sorted(deployed)),
        "types": _typed_structs(asts),
        "roles": sorted(_roles(own_asts)),
        "enums": _enums(own_asts),
        "numbers": _numbers(own_asts),
        "structs": _structs(deployed),
        "events": _members(deployed, "event"),
        "functions": _members(deployed, "function"),
        "errors": _members(deployed, "error"),
    }


def _deployed_abis(output: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """ABIs of our own contracts that have code (interfaces and libraries are in them)."""
    return {
        name: data["abi"]
        for source, contracts in output.get("contracts", {}).items()
        if source.startswith(OWN_PREFIX)
        for name, data in contracts.items()
        if data.get("evm", {}).get("bytecode", {}).get("object")
    }


def _walk(node: Any) -> Iterator[Node]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def _keccak_literal(declaration: Node) -> str | None:
    """The string in `constant X = keccak256("...")`, or None for any other declaration."""
    value = declaration.get("value") or {}
    if not declaration.get("constant") or value.get("nodeType") != "FunctionCall":
        return None
    callee = value.get("expression", {})
    args = value.get("arguments", [])
    if callee.get("name") != "keccak256" or len(args) != 1:
        return None
    literal = args[0]
    if literal.get("nodeType") != "Literal" or literal.get("kind") != "string":
        return None
    text: str = literal["value"]
    return text


def _constants(asts: list[Node]) -> Iterator[tuple[str, str]]:
    for ast in asts:
        for node in _walk(ast):
            if node.get("nodeType") == "VariableDeclaration":
                text = _keccak_literal(node)
                if text is not None:
                    yield node["name"], text


_UNITS = {None: 1, "seconds": 1, "minutes": 60, "hours": 3_600, "days": 86_400, "weeks": 604_800}


def _number(value: Node, constants: dict[int, Node]) -> int | None:
    """A constant's value if it is a number literal (with a time unit), type(uintN).max, or a
    constant (by its declaration's id in `constants`) whose value is one of these."""
    if value.get("nodeType") == "Identifier":
        declaration = constants.get(value.get("referencedDeclaration", -1))
        return None if declaration is None else _number(declaration.get("value") or {}, constants)
    if value.get("nodeType") == "Literal" and value.get("kind") == "number":
        unit = _UNITS.get(value.get("subdenomination"))
        try:
            number = int(str(value["value"]).replace("_", ""), 0)
        except ValueError:
            return None  # a decimal point or an exponent: not an integer constant we derive
        return None if unit is None else number * unit
    call = value.get("expression") or {}
    args = call.get("arguments") or []
    if (
        value.get("nodeType") == "MemberAccess"
        and value.get("memberName") == "max"
        and call.get("expression", {}).get("name") == "type"
        and len(args) == 1
    ):
        bits = re.fullmatch(r"uint(\d*)", args[0].get("typeName", {}).get("name", ""))
        if bits is not None:
            width = int(bits[1] or 256)
            return (1 << width) - 1
    return None


def _numbers(own_asts: list[Node]) -> dict[str, dict[str, Any]]:
    """Public integer constants by name: value and the contracts declaring it. One name must
    mean one value across the contracts (else the build stops: it could not be used by name)."""
    numbers: dict[str, dict[str, Any]] = {}
    constants = {
        node["id"]: node
        for ast in own_asts
        for node in _walk(ast)
        if node.get("nodeType") == "VariableDeclaration" and node.get("constant")
    }
    for ast in own_asts:
        for contract in _walk(ast):
            if contract.get("nodeType") != "ContractDefinition":
                continue
            for node in contract.get("nodes", []):
                if not (
                    node.get("nodeType") == "VariableDeclaration"
                    and node.get("constant")
                    and node.get("visibility") == "public"
                ):
                    continue
                value = _number(node.get("value") or {}, constants)
                if value is None:
                    continue
                entry = numbers.setdefault(node["name"], {"value": value, "contracts": []})
                if entry["value"] != value:
                    raise ValueError(
                        f"constant {node['name']} is {entry['value']} in {entry['contracts']} "
                        f"but {value} in {contract['name']}"
                    )
                entry["contracts"].append(contract["name"])
    return dict(sorted(numbers.items()))


def _typed_structs(asts: list[Node]) -> dict[str, dict[str, Any]]:
    types: dict[str, dict[str, Any]] = {}
    for name, text in _constants(asts):
        if not _TYPEHASH_NAME.search(name):
            continue
        match = _TYPE_STRING.fullmatch(text)
        if match is None:
            raise ValueError(f"{name} hashes {text!r}, not an EIP-712 type string")
        fields = [field.rsplit(" ", 1) for field in match.group(2).split(",") if field]
        types[match.group(1)] = {"type": text, "fields": [[n, t] for t, n in fields]}
    return dict(sorted(types.items()))


def _roles(own_asts: list[Node]) -> set[str]:
    return {name for name, text in _constants(own_asts) if name == text}


def _enums(own_asts: list[Node]) -> dict[str, dict[str, Any]]:
    enums: dict[str, dict[str, Any]] = {}
    for ast in own_asts:
        for node in _walk(ast):
            if node.get("nodeType") != "EnumDefinition":
                continue
            name = node["name"]
            if name in enums and enums[name]["scope"] != node["canonicalName"]:
                raise ValueError(f"two enums named {name}: {node['canonicalName']}")
            members = [m["name"] for m in node["members"]]
            enums[name] = {"scope": node["canonicalName"], "members": members}
    return dict(sorted(enums.items()))


def _domains(asts: list[Node], deployed: list[str]) -> dict[str, dict[str, str]]:
    """(name, version) each deployed contract gives EIP712, by contract name."""
    contracts = {
        node["id"]: node
        for ast in asts
        for node in _walk(ast)
        if node.get("nodeType") == "ContractDefinition"
    }
    by_name = {node["name"]: node for node in contracts.values()}
    domains: dict[str, dict[str, str]] = {}
    for name in deployed:
        args = _eip712_arguments(by_name[name], contracts, {})
        if args is not None:
            domains[name] = {"name": args[0], "version": args[1]}
    return domains


def _base_calls(contract: Node) -> Iterator[tuple[int, list[Node], Node | None]]:
    """(base contract id, arguments, constructor) for each base constructor given arguments."""
    constructor = next(
        (
            n
            for n in contract.get("nodes", [])
            if n.get("nodeType") == "FunctionDefinition" and n.get("kind") == "constructor"
        ),
        None,
    )
    for base in contract.get("baseContracts", []):
        if base.get("arguments"):
            yield base["baseName"]["referencedDeclaration"], base["arguments"], constructor
    for modifier in (constructor or {}).get("modifiers", []):
        if modifier.get("kind") == "baseConstructorSpecifier":
            yield (
                modifier["modifierName"]["referencedDeclaration"],
                modifier.get("arguments") or [],
                constructor,
            )


def _eip712_arguments(
    contract: Node, contracts: dict[int, Node], bindings: dict[str, str]
) -> list[str] | None:
    for base_id, arguments, _ in _base_calls(contract):
        values = [_literal(arg, bindings) for arg in arguments]
        base = contracts[base_id]
        if base["name"] == "EIP712":
            return values
        base_constructor = next(
            n
            for n in base["nodes"]
            if n.get("nodeType") == "FunctionDefinition" and n.get("kind") == "constructor"
        )
        params = [p["name"] for p in base_constructor["parameters"]["parameters"]]
        found = _eip712_arguments(base, contracts, dict(zip(params, values, strict=True)))
        if found is not None:
            return found
    return None


def _literal(node: Node, bindings: dict[str, str]) -> str:
    if node.get("nodeType") == "Literal":
        value: str = node["value"]
        return value
    if node.get("nodeType") == "Identifier" and node["name"] in bindings:
        return bindings[node["name"]]
    return "?"  # not a constant: no domain can be derived from it


def canonical_type(param: dict[str, Any]) -> str:
    """The ABI type as it appears in a signature: tuples spelled out as (t1,t2,...)."""
    kind: str = param["type"]
    if not kind.startswith("tuple"):
        return kind
    inner = ",".join(canonical_type(c) for c in param["components"])
    return f"({inner}){kind.removeprefix('tuple')}"


def _members(abis: dict[str, list[dict[str, Any]]], kind: str) -> dict[str, dict[str, Any]]:
    """Every ABI entry of `kind` by signature, with the contracts that have it."""
    found: dict[str, dict[str, Any]] = {}
    for contract, abi in sorted(abis.items()):
        for entry in abi:
            if entry.get("type") != kind:
                continue
            inputs = entry.get("inputs", [])
            signature = f"{entry['name']}({','.join(canonical_type(i) for i in inputs)})"
            item = found.setdefault(
                signature,
                {
                    "name": entry["name"],
                    "inputs": [
                        [i["name"], canonical_type(i), bool(i.get("indexed", False))]
                        for i in inputs
                    ],
                    "contracts": [],
                },
            )
            item["contracts"].append(contract)
    return dict(sorted(found.items()))


def _structs(abis: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Every struct the ABIs carry (arguments and return values), with its fields in order."""
    structs: dict[str, dict[str, Any]] = {}

    def visit(param: dict[str, Any]) -> None:
        internal = param.get("internalType", "")
        if not internal.startswith("struct "):
            return
        scope = internal.removeprefix("struct ").split("[", 1)[0]
        fields = []
        for component in param["components"]:
            visit(component)
            fields.append([component["name"], _field_type(component)])
        name = scope.rsplit(".", 1)[-1]
        if name in structs and structs[name]["scope"] != scope:
            raise ValueError(f"two structs named {name}: {structs[name]['scope']}, {scope}")
        structs[name] = {"scope": scope, "fields": fields}

    for abi in abis.values():
        for entry in abi:
            for param in [*entry.get("inputs", []), *entry.get("outputs", [])]:
                visit(param)
    return dict(sorted(structs.items()))


def _field_type(param: dict[str, Any]) -> str:
    """A field's type by its Solidity name: `enum X.Y`, `struct X.Y` or the ABI type."""
    internal: str = param.get("internalType", param["type"])
    if internal.startswith(("enum ", "struct ")):
        return internal
    return canonical_type(param)
