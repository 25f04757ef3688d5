"""Run the shipped nginx site (deploy/nginx/date-community.conf) on loopback, for tests and benchmarks.

Only the host name (localhost), the certificate (a self-signed one made
here), the ports and the checkout path are substituted; each substitution
must find its target, so a change to the shipped file that the runner no
longer matches fails loudly instead of testing something else.  nginx runs
from a temporary prefix (``-p``, ``-e stderr``, pid and temp files there), so
any user can start it; the system's nginx service is not touched.

    with LocalProxy(tmp_dir, app_port) as proxy:
        proxy.https_port, proxy.http_port, proxy.cafile
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "deploy" / "nginx" / "date-community.conf"
UNIT = ROOT / "deploy" / "systemd" / "date-community.service"


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)


def available() -> bool:
    return nginx_binary() is not None and shutil.which("openssl") is not None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def substitute(text: str, old: str, new: str, *, regex: bool = False) -> str:
    changed = re.sub(old, new, text) if regex else text.replace(old, new)
    if changed == text:
        raise AssertionError(f"deploy/nginx/date-community.conf no longer contains {old!r}")
    return changed


def render_site(*, https_port: int, http_port: int, app_port: int, cert: Path, key: Path) -> str:
    text = CONF.read_text()
    text = substitute(text, "date.example.jp", "localhost")
    text = substitute(text, "/etc/letsencrypt/live/localhost/fullchain.pem", str(cert))
    text = substitute(text, "/etc/letsencrypt/live/localhost/privkey.pem", str(key))
    text = substitute(text, "server 127.0.0.1:8000;", f"server 127.0.0.1:{app_port};")
    text = substitute(text, "/srv/date-community/", f"{ROOT}/")
    text = substitute(text, r"\n\s*listen \[::\]:\d+[^;]*;", "", regex=True)  # loopback IPv4 only
    text = substitute(text, r"listen 443\b", f"listen 127.0.0.1:{https_port}", regex=True)
    text = substitute(text, r"listen 80\b", f"listen 127.0.0.1:{http_port}", regex=True)
    # the redirect names the public https URL, which here has a port
    return substitute(text, "return 301 https://localhost$request_uri",
                      f"return 301 https://localhost:{https_port}$request_uri")


def main_conf(prefix: Path, workers: int = 1) -> str:
    temps = "\n".join(f"    {kind}_temp_path {prefix / kind};" for kind in
                      ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    # As root, nginx would hand its workers to "nobody", who cannot enter a private temporary folder.
    user = "user root;\n" if os.geteuid() == 0 else ""
    return (f"{user}worker_processes {workers};\npid {prefix / 'nginx.pid'};\nerror_log stderr warn;\n"
            f"events {{ worker_connections 512; }}\n"
            f"http {{\n    include /etc/nginx/mime.types;\n    default_type application/octet-stream;\n"
            f"    access_log off;\n{temps}\n    include {prefix / 'site.conf'};\n}}\n")


def make_certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def waitress_args(app_port: int) -> list[str]:
    """The systemd unit's waitress arguments, listening on ``app_port``."""
    import shlex

    unit = UNIT.read_text().replace("\\\n", " ")
    exec_start = re.search(r"^ExecStart=(.*)$", unit, re.M).group(1)
    args = shlex.split(exec_start)[1:]  # without the venv's waitress-serve: callers run `python -m waitress`
    if [a for a in args if a.startswith("--listen=")] != ["--listen=127.0.0.1:8000"]:
        raise AssertionError("the systemd unit no longer listens on 127.0.0.1:8000")
    return [f"--listen=127.0.0.1:{app_port}" if a.startswith("--listen=") else a for a in args]


def wait_for_port(port: int, proc: subprocess.Popen, what: str, log: Path) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise AssertionError(f"{what} stopped: {log.read_text(errors='replace')[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{what} did not start")


class LocalProxy:
    """nginx with the shipped site on https://localhost:<https_port>, in front of 127.0.0.1:<app_port>."""

    def __init__(self, folder: Path, app_port: int, workers: int = 1):
        self.folder, self.app_port, self.workers = Path(folder), app_port, workers
        self.https_port, self.http_port = free_port(), free_port()
        self.cafile: Path | None = None
        self.proc: subprocess.Popen | None = None
        self.log = self.folder / "nginx.log"

    def start(self) -> LocalProxy:
        cert, key = make_certificate(self.folder)
        self.cafile = cert
        (self.folder / "site.conf").write_text(render_site(https_port=self.https_port, http_port=self.http_port,
                                                           app_port=self.app_port, cert=cert, key=key))
        (self.folder / "nginx.conf").write_text(main_conf(self.folder, self.workers))
        command = [nginx_binary(), "-p", str(self.folder), "-c", str(self.folder / "nginx.conf"), "-e", "stderr"]
        checked = subprocess.run([*command, "-t"], capture_output=True, text=True)
        if checked.returncode != 0:
            raise AssertionError(checked.stderr)
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen([*command, "-g", "daemon off;"], stdout=out, stderr=subprocess.STDOUT)
        wait_for_port(self.https_port, self.proc, "nginx", self.log)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def __enter__(self) -> LocalProxy:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
