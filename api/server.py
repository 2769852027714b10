"""What one connection may hold, enforced where uvicorn reads HTTP (before any ASGI app).

uvicorn 0.54 with httptools (both pinned in requirements.lock) takes a head of any size (20 MB
were accepted), waits for a half-sent body as long as the client likes, keeps a connection that
never sends a byte, and answers malformed HTTP with a text/plain 400. `LimitedHttpTools` is its
protocol class with four additions, each answered as the API answers everything, JSON
`{code, detail}`, and each followed by closing the connection:

- a head over `max_header_bytes` or with more than `max_header_count` headers: 431;
- a request (head and body) not complete within `request_read_timeout_s`: 408;
- a connection idle for `idle_timeout_s` (fresh, or kept alive after a response): closed;
- malformed HTTP: 400 `MalformedHttp` (uvicorn's own `send_400_response`, in JSON).

It subclasses uvicorn's class and overrides the parser callbacks and `send_400_response`;
tests/e2e/test_limits.py fails if a uvicorn upgrade changes what these rely on.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, ClassVar

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from ledger.config import Settings


class _Refused(Exception):
    """Raised from a parser callback to stop parsing a request already answered."""


class LimitedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with head limits, a read deadline and an idle timeout."""

    settings: ClassVar[Settings]  # set by `protocol_for`

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._refused = False
        self._in_head = False
        self._head_bytes = 0
        self._head_count = 0
        self._deadline: asyncio.TimerHandle | None = None

    # --- connection ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # A connection that never sends anything is closed like an idle kept-alive one.
        self.timeout_keep_alive_task = self.loop.call_later(
            self.settings.idle_timeout_s, self.timeout_keep_alive_handler
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        whole_chunk_in_head = self._in_head
        super().data_received(data)
        # A head that never ends (one endless header line) is counted as it arrives: the
        # parser reports a header only once it is complete.
        if whole_chunk_in_head and self._in_head and not self._refused:
            self._head_bytes += len(data)
            self._refuse_large_head()

    def send_400_response(self, msg: str) -> None:
        if self._refused:
            return  # answered already (a limit raised `_Refused` inside the parser)
        self._refuse(400, "MalformedHttp", f"malformed HTTP request: {msg}")

    # --- parser callbacks ---------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_bytes, self._head_count = True, 0, 0
        self._arm_deadline()

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self._head_bytes += len(url)
        self._check_head()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value) + 4
        self._head_count += 1
        self._check_head()
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._cancel_deadline()
        super().on_message_complete()

    # --- limits ---------------------------------------------------------------------------------

    def _check_head(self) -> None:
        """In a parser callback: answer a head over the limits, and stop the parser."""
        if self._refuse_large_head():
            raise _Refused("head over the limits")

    def _refuse_large_head(self) -> bool:
        limits = self.settings
        if self._head_count > limits.max_header_count:
            detail = f"more than {limits.max_header_count} request headers"
        elif self._head_bytes > limits.max_header_bytes:
            detail = f"request line and headers over {limits.max_header_bytes} bytes"
        else:
            return False
        self._refuse(431, "HeadersTooLarge", detail)
        return True

    def _arm_deadline(self) -> None:
        self._cancel_deadline()
        self._deadline = self.loop.call_later(
            self.settings.request_read_timeout_s, self._deadline_passed
        )

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _deadline_passed(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self.flow.read_paused:
            # We stopped reading (a pipelined request waits for the one before it): not the
            # client's delay. Look again later.
            self._arm_deadline()
            return
        if self.cycle is not None and self.cycle.response_complete:
            # Answered already (e.g. 413 by its Content-Length) and the rest never came: a
            # second answer would only confuse the client.
            self.transport.close()
            return
        limit = self.settings.request_read_timeout_s
        self._refuse(408, "RequestTimeout", f"the request did not arrive whole within {limit} s")

    def _refuse(self, status: int, code: str, detail: str) -> None:
        """Answer `status` with the API's JSON error (unless a response already began), then
        close: what is left of this request cannot be trusted to be read."""
        self._refused = True
        self._cancel_deadline()
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            # The app may be waiting for the rest of the body: it gets a disconnect.
            started = cycle.response_started
            cycle.disconnected = True
            cycle.message_event.set()
            if started:
                self.transport.close()
                return
        body = json.dumps({"code": code, "detail": detail}).encode()
        head = [STATUS_LINE[status]]
        head += [k + b": " + v + b"\r\n" for k, v in self.server_state.default_headers]
        head += [
            b"content-type: application/json\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()


def protocol_for(settings: Settings) -> type[LimitedHttpTools]:
    """The protocol class uvicorn instantiates per connection, bound to these settings."""
    return type("LimitedHttpTools", (LimitedHttpTools,), {"settings": settings})
