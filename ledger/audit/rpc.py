"""A small JSON-RPC client for the auditor: batched requests over one keep-alive connection.

web3.py's middleware and result formatting cost more than the node's answer for the volumes an
audit reads (every block, every receipt); the auditor wants the node's raw JSON anyway, since it
recomputes every hash from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
import ujson

from ledger.errors import LedgerError

BATCH_SIZE = 100


class AuditInfraError(LedgerError):
    """The audit could not be carried out (node unreachable, bad answer, compiler missing):
    nothing is known about the chain, which is different from a finding about it."""


class RpcClient:
    def __init__(self, url: str, *, timeout: float = 120.0) -> None:
        self.url = url
        self._http = httpx.Client(timeout=timeout, headers={"Content-Type": "application/json"})
        self._id = 0

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RpcClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _post(self, body: Any) -> Any:
        try:
            response = self._http.post(self.url, content=ujson.dumps(body))
            response.raise_for_status()
            return ujson.loads(response.content)
        except (httpx.HTTPError, ValueError) as exc:
            from ledger.transport import node_name  # web3 and requests: not for every worker

            # Named by scheme, host and port: the URL may carry a provider's key, and httpx's
            # message repeats the URL whole.
            raise AuditInfraError(
                f"node at {node_name(self.url)} did not answer ({type(exc).__name__})"
            ) from exc

    def call(self, method: str, params: Sequence[Any] = ()) -> Any:
        self._id += 1
        answer = self._post({"jsonrpc": "2.0", "id": self._id, "method": method, "params": params})
        if "error" in answer:
            raise AuditInfraError(f"{method} failed: {answer['error'].get('message', answer)}")
        return answer["result"]

    def try_call(self, method: str, params: Sequence[Any] = ()) -> tuple[Any, str | None]:
        """(result, None) or (None, the node's error message): for calls that may legitimately
        fail (an eth_call that reverts, a tracer the node lacks)."""
        self._id += 1
        answer = self._post({"jsonrpc": "2.0", "id": self._id, "method": method, "params": params})
        if "error" in answer:
            error = answer["error"]
            return None, str(error.get("message", error)) + (
                f" data={error['data']}" if error.get("data") else ""
            )
        return answer["result"], None

    def batch(
        self, calls: Sequence[tuple[str, Sequence[Any]]], *, allow_errors: bool = False
    ) -> list[Any]:
        """Results in the order of `calls`; an error in any raises unless `allow_errors`, in which
        case its slot holds an `RpcFailure`."""
        results: list[Any] = []
        for start in range(0, len(calls), BATCH_SIZE):
            chunk = calls[start : start + BATCH_SIZE]
            base = self._id + 1
            self._id += len(chunk)
            body = [
                {"jsonrpc": "2.0", "id": base + i, "method": m, "params": list(p)}
                for i, (m, p) in enumerate(chunk)
            ]
            answer = self._post(body)
            if not isinstance(answer, list):
                raise AuditInfraError(f"node refused a batch: {answer.get('error', answer)}")
            by_id = {item.get("id"): item for item in answer}
            for i, (method, _) in enumerate(chunk):
                item = by_id.get(base + i)
                if item is None:
                    raise AuditInfraError(f"node left {method} unanswered in a batch")
                if "error" in item:
                    if not allow_errors:
                        raise AuditInfraError(f"{method} failed: {item['error'].get('message')}")
                    results.append(RpcFailure(str(item["error"].get("message")), item["error"]))
                else:
                    results.append(item["result"])
        return results


class RpcFailure:
    """One failed call within a batch (see `RpcClient.batch(allow_errors=True)`)."""

    def __init__(self, message: str, raw: Any) -> None:
        self.message = message
        self.raw = raw

    def __repr__(self) -> str:
        return f"RpcFailure({self.message!r})"
