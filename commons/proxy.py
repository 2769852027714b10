"""The TLS proxy in front of the API: nginx's site file, and `commons proxy-config` to write it.

The API binds to loopback only; residents' phones reach it through nginx, which holds the
certificate, redirects plain HTTP to HTTPS, and tells the API who the client is. The template is
deploy/nginx/commons.conf.template; docs/security.md "Behind the TLS proxy" explains it.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from commons.errors import fail
from ledger.config import Settings
from ledger.errors import ConfigError
from ledger.files import atomic_write

TEMPLATE = Path("deploy") / "nginx" / "commons.conf.template"
# nginx connects to the API from this loopback address (Linux answers all of 127.0.0.0/8), so
# the API can trust it without trusting every local client, which connects from 127.0.0.1.
DEFAULT_PROXY_ADDRESS = "127.0.0.2"
# What may stand in the config file: a value with `;`, a brace, a quote or a space could add
# directives of its own.
SERVER_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")
LISTEN = re.compile(r"(?:(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:]+\]):)?(\d{1,5})")
PATH = re.compile(r"/[\w./+-]*")
PLACEHOLDER = re.compile(r"@[A-Z_]+@")


@dataclass(frozen=True)
class ProxySite:
    """What a site needs beyond the settings: its name, certificate and where it listens."""

    server_name: str
    cert: Path
    key: Path
    https_listen: str = "443"
    http_listen: str = "80"
    proxy_address: str = DEFAULT_PROXY_ADDRESS


def render_site(site: ProxySite, settings: Settings) -> str:
    """The nginx site file (http context) for `site` in front of the API of `settings`."""
    https_port = _port(site.https_listen, "the HTTPS listen address")
    _port(site.http_listen, "the HTTP listen address")
    if not SERVER_NAME.fullmatch(site.server_name):
        raise ConfigError(f"not a host name: {site.server_name!r}")
    for what, path in (("certificate", site.cert), ("key", site.key)):
        if not PATH.fullmatch(str(path)):
            raise ConfigError(f"the {what} needs an absolute path of plain characters: {path}")
    _check_trusted(site.proxy_address, settings)
    api_host = settings.api_host.replace("localhost", "127.0.0.1")
    upstream = f"[{api_host}]" if ":" in api_host else api_host
    values = {
        "SERVER_NAME": site.server_name,
        "CERT": str(site.cert),
        "KEY": str(site.key),
        "HTTPS_LISTEN": site.https_listen,
        "HTTP_LISTEN": site.http_listen,
        "HTTPS_PORT_SUFFIX": "" if https_port == 443 else f":{https_port}",
        "UPSTREAM": f"{upstream}:{settings.api_port}",
        # A second under the API's idle timeout, so nginx never reuses one it is closing.
        "UPSTREAM_IDLE_MS": str(max(100, round(settings.idle_timeout_s * 1000) - 1000)),
        "PROXY_ADDRESS": site.proxy_address,
        "MAX_BODY_BYTES": str(settings.max_body_bytes),
    }
    text = (settings.project_root / TEMPLATE).read_text()
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    left = PLACEHOLDER.search(text)
    if left:
        raise ConfigError(f"{TEMPLATE} has a placeholder nothing fills: {left.group()}")
    return text


def _port(listen: str, what: str) -> int:
    match = LISTEN.fullmatch(listen)
    if match is None or not 0 < int(match.group(1)) < 65536:
        raise ConfigError(f"{what} is a port or address:port, not {listen!r}")
    return int(match.group(1))


def _check_trusted(address: str, settings: Settings) -> None:
    """Refuse a proxy the API would not believe: every resident would count as one client."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError as exc:
        raise ConfigError(f"the proxy's address must be an IP address, not {address!r}") from exc
    if not any(ip in ipaddress.ip_network(net) for net in settings.trusted_proxies):
        raise ConfigError(
            f"the API does not trust {address} as a proxy: set COMMONS_TRUSTED_PROXIES={address} "
            "for the API (or name another address with --proxy-address)"
        )


def proxy_config(
    server_name: Annotated[str, typer.Option(help="the name residents type, e.g. vote.example")],
    cert: Annotated[Path, typer.Option(help="the certificate chain (PEM), an absolute path")],
    key: Annotated[Path, typer.Option(help="its private key (PEM), an absolute path")],
    listen: Annotated[str, typer.Option(help="where HTTPS is served: port or address:port")] = (
        "443"
    ),
    http_listen: Annotated[
        str, typer.Option(help="where plain HTTP is redirected to HTTPS: port or address:port")
    ] = "80",
    proxy_address: Annotated[
        str, typer.Option(help="the address nginx connects to the API from (a trusted proxy)")
    ] = DEFAULT_PROXY_ADDRESS,
    out: Annotated[Path | None, typer.Option(help="write here instead of stdout")] = None,
) -> None:
    """Write nginx's site file serving the page and the API over TLS (docs/security.md)."""
    site = ProxySite(server_name, cert, key, listen, http_listen, proxy_address)
    try:
        text = render_site(site, Settings())
    except ValidationError as exc:
        first = exc.errors()[0]
        fail(f"bad setting {'.'.join(str(p) for p in first['loc'])}: {first['msg']}")
    except ConfigError as exc:
        fail(str(exc))
    if out is None:
        typer.echo(text, nl=False)
    else:
        atomic_write(out, text)
