"""TLS in front of the API for end-to-end tests: a CA and a server certificate made here, and
Debian's nginx as the test's own child (its own prefix, free loopback ports, a pid file;
stopped by its PID) with the site file `commons proxy-config` writes. Chromium trusts the
server's key by its SPKI hash (`--ignore-certificate-errors-spki-list`); httpx trusts the CA."""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import ipaddress
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ledger.node import child_pids, free_port

NGINX = Path(shutil.which("nginx") or "/usr/sbin/nginx")
PROXY_ADDRESS = "127.0.0.2"
SERVER_NAME = "localhost"


# --- the certificate --------------------------------------------------------------------------


@dataclass(frozen=True)
class Certs:
    ca: Path
    cert: Path
    key: Path
    spki_sha256: str  # base64, as Chromium's --ignore-certificate-errors-spki-list takes it


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_certs(folder: Path) -> Certs:
    """A CA, and a server certificate it signs for localhost and 127.0.0.1 (P-256 keys)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Commons Ledger test CA"))
        .issuer_name(_name("Commons Ledger test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(SERVER_NAME))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(SERVER_NAME), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = Certs(folder / "ca.pem", folder / "server.pem", folder / "server.key", "")
    paths.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    # The chain nginx sends: the server's certificate, then its CA's.
    paths.cert.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM)
    )
    paths.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return Certs(
        paths.ca, paths.cert, paths.key, base64.b64encode(hashlib.sha256(spki).digest()).decode()
    )


# --- nginx --------------------------------------------------------------------------------------


@dataclass
class Proxy:
    https: str  # https://localhost:PORT
    http: str  # http://127.0.0.1:PORT (redirects)
    certs: Certs
    proc: subprocess.Popen[bytes]

    def client(self, source: str | None = None) -> httpx.Client:
        """An HTTPS client trusting the test CA, connecting from `source` (a loopback address)."""
        context = ssl.create_default_context(cafile=str(self.certs.ca))
        transport = httpx.HTTPTransport(verify=context, local_address=source)
        return httpx.Client(transport=transport, base_url=self.https, timeout=30)


MAIN_CONF = """\
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
{user}
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {prefix}/commons.conf;
}}
"""


def write_site_with_cli(
    env: dict[str, str], certs: Certs, https_port: int, http_port: int, out: Path
) -> None:
    """`commons proxy-config`, as an operator runs it, with the API's own settings (`env`)."""
    run = subprocess.run(
        [sys.executable, "-m", "commons.cli", "proxy-config", "--server-name", SERVER_NAME,
         "--cert", str(certs.cert), "--key", str(certs.key),
         "--listen", f"127.0.0.1:{https_port}", "--http-listen", f"127.0.0.1:{http_port}",
         "--out", str(out)],
        env={**env, "COMMONS_TRUSTED_PROXIES": PROXY_ADDRESS},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr


def start_nginx(prefix: Path) -> subprocess.Popen[bytes]:
    # As root, nginx's workers would drop to `nobody`, who cannot enter pytest's 0700 tmp dirs.
    user = "user root;" if os.geteuid() == 0 else ""
    (prefix / "nginx.conf").write_text(MAIN_CONF.format(prefix=prefix, user=user))
    check = subprocess.run(
        [NGINX, "-t", "-p", prefix, "-c", prefix / "nginx.conf", "-e", prefix / "error.log"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert check.returncode == 0, check.stderr
    with open(prefix / "stderr.log", "ab") as log:
        return subprocess.Popen(
            [NGINX, "-p", prefix, "-c", prefix / "nginx.conf", "-e", prefix / "error.log"],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
        )


def wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"nginx exited on start:\n{log.read_text()[-3000:]}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("nginx did not listen within 20 s")


def stop_nginx(proc: subprocess.Popen[bytes]) -> None:
    workers = child_pids(proc.pid)
    proc.send_signal(signal.SIGTERM)  # a fast shutdown: the master stops its workers
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
    for pid in workers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)  # only if one outlived its master


@contextlib.contextmanager
def tls_proxy(env: dict[str, str], certs: Certs, prefix: Path) -> Iterator[Proxy]:
    """nginx in `prefix`, on free loopback ports, in front of the API `env` configures (which
    should trust PROXY_ADDRESS); stopped by its PID on the way out."""
    if not NGINX.exists():
        pytest.fail(f"{NGINX} is missing: `make nginx` installs Debian's nginx-light")
    https_port, http_port = free_port(), free_port()
    write_site_with_cli(env, certs, https_port, http_port, prefix / "commons.conf")
    proc = start_nginx(prefix)
    try:
        wait_listening(https_port, proc, prefix / "error.log")
        wait_listening(http_port, proc, prefix / "error.log")
        yield Proxy(f"https://{SERVER_NAME}:{https_port}", f"http://127.0.0.1:{http_port}",
                    certs, proc)  # fmt: skip
    finally:
        stop_nginx(proc)
