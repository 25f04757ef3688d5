"""Request bodies (webapp/bodylimit.py): 1 MiB everywhere, 40 MiB on the sheet upload, refused from Content-Length."""
from __future__ import annotations

import io
import re
import socket
import threading
import time
from pathlib import Path

import pytest
from waitress.server import create_server

from conftest import STAFF_PASSWORD, login
from date_community import config
from webapp import bodylimit

ROOT = Path(__file__).resolve().parent.parent
HUGE = 286 * 1024 * 1024  # the 286 MB


def makefile_body_size() -> int:
    return int(re.search(r"^MAX_REQUEST_BODY_SIZE := (\d+)$", (ROOT / "Makefile").read_text(), re.M).group(1))


def test_a_huge_content_length_is_refused_before_the_body_is_read(app, client):
    stream = io.BytesIO(b"username=staff1&password=x")
    started = time.monotonic()
    response = client.post("/login?lang=ja", input_stream=stream, content_type="application/x-www-form-urlencoded",
                           environ_overrides={"CONTENT_LENGTH": str(HUGE)})
    assert 413 == response.status_code
    assert time.monotonic() - started < 5
    assert stream.tell() == 0  # not a byte was read
    page = response.get_data(as_text=True)
    assert '<html lang="ja"' in page
    with app.test_request_context("/?lang=ja"):
        from flask_babel import gettext
        assert gettext("Please choose a smaller file and try again.") in page


def test_forms_are_capped_at_one_mebibyte(app, client):
    assert app.config["MAX_BODY_BYTES"] == config.MiB
    just_over = {"username": "staff1", "password": "x" * config.MiB}
    assert 413 == client.post("/login", data=just_over).status_code
    assert 413 == client.post("/cancel", data={"reference": "x" * config.MiB, "phone": "1"}).status_code
    assert 200 == client.post("/login", data={"username": "staff1", "password": "x" * 900_000}).status_code


def test_the_cap_follows_the_setting(app, client):
    app.config["MAX_BODY_BYTES"] = 4096
    assert 413 == client.post("/login", data={"username": "staff1", "password": "x" * 5000}).status_code
    assert 200 == client.post("/login", data={"username": "staff1", "password": "x" * 3000}).status_code


def test_only_the_sheet_upload_gets_the_larger_cap(app, staff_client):
    assert bodylimit.UPLOAD_ENDPOINTS == {"staff.forms_upload"}
    assert "staff.forms_upload" in app.view_functions
    assert 413 == staff_client.post("/staff/forms/print", data={"copies": "1" * (2 * config.MiB)}).status_code
    # the upload itself takes 2.5 MB: tests/test_web_staff_forms.py
    # test_the_upload_route_accepts_more_than_the_app_wide_limit
    with app.test_request_context("/staff/forms/upload", method="POST"):
        assert bodylimit.limit_for("staff.forms_upload") == app.config["MAX_UPLOAD_BYTES"] == 40 * config.MiB
        assert bodylimit.limit_for("staff.forms_print") == config.MiB


def test_a_body_without_content_length_is_not_read_without_bound(client):
    # werkzeug reads nothing from a stream of unknown length unless the server
    # says it ends it (waitress does, and then sets Content-Length: see below)
    stream = io.BytesIO(b"username=staff1&password=" + b"x" * (3 * config.MiB))
    response = client.post("/login", input_stream=stream, content_type="application/x-www-form-urlencoded",
                           headers={"Transfer-Encoding": "chunked"})
    assert response.status_code in (200, 400, 413)
    assert stream.tell() <= config.MiB


# --- against a real waitress, set as `make run` and the systemd unit set it ------------------------

def test_waitress_is_told_the_same_limit_everywhere():
    size = makefile_body_size()
    unit = (ROOT / "deploy" / "systemd" / "date-community.service").read_text()
    assert f"--max-request-body-size={size}" in unit
    assert "--max-request-body-size=$(MAX_REQUEST_BODY_SIZE)" in (ROOT / "Makefile").read_text()
    upload = config.BY_KEY["MAX_UPLOAD_BYTES"].default
    assert upload < size <= upload + 2 * config.MiB  # room for the multipart framing, no more


@pytest.fixture
def server(app):
    srv = create_server(app, host="127.0.0.1", port=0, threads=2, max_request_body_size=makefile_body_size())
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    yield srv.effective_port
    srv.close()
    thread.join(timeout=5)


def raw_request(port: int, head: bytes, body: bytes = b"", *, wait: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as s:
        s.sendall(head + body)
        chunks = []
        try:
            while chunk := s.recv(65536):
                chunks.append(chunk)
                if b"\r\n\r\n" in b"".join(chunks) and not body:
                    break
        except TimeoutError:
            pass
    return b"".join(chunks)


def test_waitress_refuses_the_286_mb_body_from_its_header(server):
    head = (b"POST /login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: %d\r\n\r\n" % HUGE)
    started = time.monotonic()
    answer = raw_request(server, head)  # the body is never sent: the answer comes first
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert time.monotonic() - started < 3


def test_through_waitress_a_2_mb_form_gets_the_apps_413_page(server):
    body = b"username=staff1&password=" + b"x" * (2 * config.MiB)
    head = (b"POST /login?lang=en HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n" % len(body))
    answer = raw_request(server, head, body)
    assert answer.startswith(b"HTTP/1.1 413")
    assert b"Please choose a smaller file" in answer


def test_through_waitress_a_chunked_form_is_capped_too(server):
    data = b"username=staff1&password=" + b"x" * (2 * config.MiB)
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(data[i:i + 65536]), data[i:i + 65536])
                       for i in range(0, len(data), 65536)) + b"0\r\n\r\n"
    head = (b"POST /login?lang=en HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n")
    answer = raw_request(server, head, chunked)
    assert answer.startswith(b"HTTP/1.1 413")


def test_through_waitress_a_normal_login_still_works(server):
    body = b"username=staff1&password=" + STAFF_PASSWORD.encode()
    head = (b"POST /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n" % len(body))
    assert raw_request(server, head, body).startswith(b"HTTP/1.1 302")


def test_login_helper_still_fine(client):
    assert 302 == login(client, "staff1", STAFF_PASSWORD).status_code
