"""`commons proxy-config` (commons/proxy.py) and the COMMONS_TRUSTED_PROXIES setting: a site file
with every placeholder filled, and nothing a value could smuggle into nginx's configuration."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from commons.cli import app
from commons.proxy import ProxySite, render_site
from ledger.config import Settings
from ledger.errors import ConfigError

CERT, KEY = Path("/etc/ssl/commons/fullchain.pem"), Path("/etc/ssl/commons/key.pem")


def settings(**overrides: Any) -> Settings:
    return Settings(**{"trusted_proxies": "127.0.0.2", "api_port": 8123, **overrides})


def site(**overrides: Any) -> ProxySite:
    return ProxySite(**{"server_name": "vote.example", "cert": CERT, "key": KEY, **overrides})


def test_trusted_proxies_are_addresses_or_networks_from_a_comma_separated_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COMMONS_TRUSTED_PROXIES", " 127.0.0.2, 10.0.0.0/8,::1 ")
    assert Settings().trusted_proxies == ("127.0.0.2", "10.0.0.0/8", "::1")
    monkeypatch.delenv("COMMONS_TRUSTED_PROXIES")
    assert Settings().trusted_proxies == ()


@pytest.mark.parametrize("value", ["*", "proxy.example", "10.0.0.1/8", "127.0.0.2 10.0.0.1"])
def test_a_trusted_proxy_that_is_not_an_address_is_refused(value: str) -> None:
    with pytest.raises(ValidationError, match="trusted_proxies"):
        Settings(trusted_proxies=value)


def test_the_site_serves_tls_redirects_http_and_names_the_client_from_its_own_address() -> None:
    text = render_site(site(https_listen="8443", http_listen="127.0.0.1:8080"), settings())
    assert not re.search(r"@[A-Z_]+@", text)
    assert "listen 8443 ssl http2;" in text and "listen 127.0.0.1:8080;" in text
    assert "return 308 https://vote.example:8443$request_uri;" in text
    assert f"ssl_certificate {CERT};" in text and f"ssl_certificate_key {KEY};" in text
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in text
    assert "server 127.0.0.1:8123;" in text
    assert "proxy_bind 127.0.0.2;" in text
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in text
    assert "keepalive_timeout 4000ms;" in text, "closed before the API's 5 s idle timeout"
    quick = render_site(site(), settings(idle_timeout_s=1.5))
    assert "keepalive_timeout 500ms;" in quick
    assert "client_max_body_size 262144;" in text
    assert text.count("access_log off;") == 2, "no record of who asked for what"
    on_443 = render_site(site(), settings())
    assert "return 308 https://vote.example$request_uri;" in on_443


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"server_name": "vote.example; include /etc/passwd"}, "not a host name"),
        ({"server_name": "-vote"}, "not a host name"),
        ({"cert": Path("certs/fullchain.pem")}, "absolute path"),
        ({"key": Path("/etc/ssl/my key.pem")}, "absolute path"),
        ({"https_listen": "443; ssl off"}, "port or address:port"),
        ({"http_listen": "70000"}, "port or address:port"),
        ({"proxy_address": "127.0.0.3"}, "COMMONS_TRUSTED_PROXIES=127.0.0.3"),
        ({"proxy_address": "localhost"}, "an IP address"),
    ],
)
def test_a_value_that_does_not_belong_in_the_site_is_refused(
    change: dict[str, Any], says: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(says)):
        render_site(site(**change), settings())


def test_the_command_writes_the_site_or_says_in_one_line_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["proxy-config", "--server-name", "vote.example", "--cert", str(CERT), "--key", str(KEY)]
    monkeypatch.delenv("COMMONS_TRUSTED_PROXIES", raising=False)
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 1
    assert refused.output.strip().splitlines() == [
        "error: the API does not trust 127.0.0.2 as a proxy: set COMMONS_TRUSTED_PROXIES="
        "127.0.0.2 for the API (or name another address with --proxy-address)"
    ]
    monkeypatch.setenv("COMMONS_TRUSTED_PROXIES", "127.0.0.2")
    out = tmp_path / "commons.conf"
    written = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert written.exit_code == 0, written.output
    assert out.read_text() == render_site(site(), Settings())
