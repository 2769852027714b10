"""The page a running API serves must be, byte for byte, a fresh build of web/: the page holds
residents' keys, so a page of the operator's own is the quietest way to take them."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ledger.audit.page import check_page, fresh_page
from ledger.config import Settings

# What web/build.mjs writes besides the chunks loaded later (each named with its hash).
PAGE_FILES = {"index.html", "app.js", "app.css", "app.js.LEGAL.txt", "app.js.map"}


@pytest.fixture(scope="module")
def built(settings: Settings) -> dict[str, bytes]:
    return fresh_page(settings)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A plain static server on loopback, standing in for what an operator serves."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", tmp_path
    httpd.shutdown()
    httpd.server_close()


def serve(root: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        (root / name).write_bytes(data)


def test_the_fresh_build_is_the_same_twice(settings: Settings, built: dict[str, bytes]) -> None:
    assert set(built) > PAGE_FILES
    # The QR reader is a chunk of its own, fetched only when a photo is read.
    assert any(name.startswith("jsQR-") and name.endswith(".js") for name in built)
    assert fresh_page(settings) == built


def test_a_page_served_as_built_gives_no_finding(
    settings: Settings, built: dict[str, bytes], server: tuple[str, Path]
) -> None:
    url, root = server
    serve(root, built)
    findings, warnings, digests = check_page(settings, url)
    assert findings == [] and warnings == []
    assert set(digests) == set(built)


def test_one_changed_byte_in_the_served_script_is_named(
    settings: Settings, built: dict[str, bytes], server: tuple[str, Path]
) -> None:
    url, root = server
    script = bytearray(built["app.js"])
    script[len(script) // 2] ^= 0x01
    serve(root, {**built, "app.js": bytes(script)})
    findings, _, _ = check_page(settings, url)
    assert [(f.rule, f.detail.split(" serves a ")[1].split(" ")[0]) for f in findings] == [
        ("api.page", "app.js")
    ]


def test_a_file_missing_from_what_is_served_is_named(
    settings: Settings, built: dict[str, bytes], server: tuple[str, Path]
) -> None:
    url, root = server
    serve(root, {k: v for k, v in built.items() if k != "app.css"})
    findings, _, _ = check_page(settings, url)
    assert len(findings) == 1 and findings[0].found == "HTTP 404"
