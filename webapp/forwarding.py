"""Who the visitor is and which host they asked for, behind a reverse proxy.

Behind nginx every request comes from the proxy's own address, over plain
HTTP.  With ``TRUSTED_PROXIES=N`` werkzeug's ProxyFix takes the client's
address, the scheme, the host and the port from the last N hops of the
X-Forwarded-* headers; that is what the throttles key on and what makes the
app see https.  With 0 (the default) those headers are ignored, so a client
talking to waitress directly cannot claim another address.

X-Forwarded-Prefix is not trusted: the app is served at the root of its
host, and a prefix the proxy forgot to clear would move every link.

With ``BASE_URL`` set, the app answers only for that host (Flask's
TRUSTED_HOSTS: any other Host gets 400), and absolute links come from
BASE_URL (webapp/links.py).
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response
from werkzeug.exceptions import SecurityError
from werkzeug.middleware.proxy_fix import ProxyFix


def trusted_hosts(base_url: str) -> list[str] | None:
    """The host names the app answers for: BASE_URL's, or None (any) when it is unset."""
    host = urlsplit(base_url).hostname if base_url else None
    return [host] if host else None


def init_app(app: Flask) -> None:
    if app.config.get("TRUSTED_HOSTS") is None:
        app.config["TRUSTED_HOSTS"] = trusted_hosts(app.config.get("BASE_URL") or "")
    app.register_error_handler(SecurityError, _untrusted_host)
    hops = int(app.config.get("TRUSTED_PROXIES") or 0)
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=0)


def _untrusted_host(exc: SecurityError):
    # No URL can be built for a host the app does not answer for, so the
    # usual error page (links home, language links) cannot be drawn: only a
    # forged or misconfigured Host gets here: a fixed plain 400 that does not
    # echo the host back.
    return Response("400 Bad Request: unknown host name\n", 400, mimetype="text/plain")
