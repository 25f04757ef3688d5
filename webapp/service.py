"""Several towns in one process: one Flask app per town, chosen by host name.

``create_service()`` is the waitress entry point (``--call
webapp:create_service``).  With no ``[towns.<key>]`` table in config.toml it
returns ``create_app()`` itself, so a one-town deployment is exactly what it
was.  With towns it builds one ``create_app`` per town, each with its own
database, content folder, BASE_URL and SECRET_KEY (config.town_settings), and
a small WSGI dispatcher in front that picks the app by the Host header.

Isolation comes from the apps being separate: each has its own extensions
(page cache, throttles, the demo flag, the mail worker), its own database
(records, uploads, QR scan counts, login sessions) and its own secret key, so
a session cookie signed for one town is refused by every other even if a
browser sends it there.

Behind nginx the Host header is the visitor's (``proxy_set_header Host
$host`` in deploy/nginx/date-community.conf).  With TRUSTED_PROXIES the
dispatcher reads X-Forwarded-Host the way each app's ProxyFix does, so the
town it picks is always the one whose host the app then sees.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from flask import Flask

from date_community import config as settings
from date_community.errors import DateCommunityError

from .app import create_app

UNKNOWN_HOST = b"400 Bad Request: unknown host name\n"


class TownDispatcher:
    """A WSGI app that hands each request to the app of the town its Host names."""

    def __init__(self, apps: Mapping[str, Flask], hosts: Mapping[str, str], default: str | None,
                 trusted_proxies: int = 0):
        self.apps = dict(apps)        # town key -> app
        self.hosts = dict(hosts)      # host name -> town key
        # Only with no BASE_URL anywhere may an unknown host fall back to the
        # default town (as one app without BASE_URL answers any host).
        self.default = default
        self.trusted_proxies = trusted_proxies

    def host(self, environ: Mapping[str, Any]) -> str:
        """The host the chosen app will see: with TRUSTED_PROXIES=N, X-Forwarded-Host's N-th value from the
        end (as werkzeug's ProxyFix in each app reads it), else the Host header."""
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME") or ""
        if self.trusted_proxies > 0 and environ.get("HTTP_X_FORWARDED_HOST"):
            values = [v.strip() for v in environ["HTTP_X_FORWARDED_HOST"].split(",")]
            if len(values) >= self.trusted_proxies:
                host = values[-self.trusted_proxies]
        return settings.normalize_host(host)

    def app_for(self, environ: Mapping[str, Any]) -> Flask | None:
        key = self.hosts.get(self.host(environ), self.default)
        return self.apps.get(key) if key else None

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        app = self.app_for(environ)
        if app is None:
            # The same fixed reply as forwarding.py gives an unknown host: no
            # town's page can be drawn, and the host is not echoed back.
            start_response("400 Bad Request", [("Content-Type", "text/plain; charset=utf-8"),
                                               ("Content-Length", str(len(UNKNOWN_HOST)))])
            return [UNKNOWN_HOST]
        return app(environ, start_response)


def build_service(towns: Mapping[str, settings.Town], base: Mapping[str, Any], *,
                  default: str | None = None, config: Mapping[str, Any] | None = None) -> TownDispatcher:
    """One app per town from the shared settings ``base``; ``config`` is added to every town's app."""
    apps, hosts = {}, {}
    for key, town in towns.items():
        values = settings.town_settings(base, town)
        apps[key] = create_app({**values, **(config or {})})
        hosts[town.host] = key
    any_base_url = any(town.base_url for town in towns.values())
    if default is None:
        chosen = settings.default_town(base, towns)
        default = chosen.key if chosen else None
    hops = int({**base, **(config or {})}.get("TRUSTED_PROXIES") or 0)
    return TownDispatcher(apps, hosts, None if any_base_url else default, trusted_proxies=hops)


def create_service(config: Mapping[str, Any] | None = None) -> Flask | TownDispatcher:
    """The towns of instance/config.toml, or the one app when none are listed."""
    try:
        towns = settings.load_towns()
        base = settings.load() if towns else {}
    except DateCommunityError as exc:
        raise SystemExit(f"date-community: {exc.message}") from None
    if not towns:
        return create_app(dict(config) if config else None)
    return build_service(towns, base, config=config)
