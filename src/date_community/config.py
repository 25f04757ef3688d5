"""Every setting of a deployment, in one list.

A setting comes from its environment variable, or else from the same name in
``instance/config.toml`` (optional), or else from its default.  The web app
copies the result into ``app.config`` under each setting's key; the CLI reads
the same list, so ``doctor`` checks exactly what the app will use.
``docs/deployment.md`` documents this list; a test keeps the two in step.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ValidationError

CONFIG_FILE_ENV = "DATE_COMMUNITY_CONFIG"
DEFAULT_CONFIG_FILE = Path("instance") / "config.toml"
MiB = 1024 * 1024


@dataclass(frozen=True)
class Setting:
    env: str          # the variable's name, also its name in config.toml
    key: str          # the app.config key
    kind: type        # str, int, float or bool
    default: Any
    secret: bool = False
    minimum: float | None = None


SETTINGS: tuple[Setting, ...] = (
    Setting("SECRET_KEY", "SECRET_KEY", str, "", secret=True),
    Setting("DATE_COMMUNITY_DB", "DATABASE", str, "instance/date-community.db"),
    Setting("DATE_COMMUNITY_BASE_URL", "BASE_URL", str, ""),
    Setting("DATE_COMMUNITY_CONTENT", "CONTENT_DIR", str, ""),
    # The static tourism pages' host (export-static); the /q/<code> landing redirects there.
    Setting("DATE_COMMUNITY_STATIC_BASE_URL", "STATIC_BASE_URL", str, ""),
    Setting("DATE_COMMUNITY_DEFAULT_TOWN", "DEFAULT_TOWN", str, ""),
    Setting("MAIL_SERVER", "MAIL_SERVER", str, ""),
    Setting("MAIL_PORT", "MAIL_PORT", int, 25, minimum=1),
    Setting("MAIL_USERNAME", "MAIL_USERNAME", str, ""),
    Setting("MAIL_PASSWORD", "MAIL_PASSWORD", str, "", secret=True),
    Setting("MAIL_USE_TLS", "MAIL_USE_TLS", bool, False),
    Setting("MAIL_USE_SSL", "MAIL_USE_SSL", bool, False),
    Setting("MAIL_FROM", "MAIL_FROM", str, "no-reply@localhost"),
    Setting("STAFF_EMAIL", "STAFF_EMAIL", str, ""),
    Setting("OFFICE_PHONE", "OFFICE_PHONE", str, "024-577-1111"),
    Setting("DATE_COMMUNITY_SCAN_RETENTION_DAYS", "SCAN_RETENTION_DAYS", int, 365, minimum=1),
    Setting("DATE_COMMUNITY_TRUSTED_PROXIES", "TRUSTED_PROXIES", int, 0, minimum=0),
    Setting("DATE_COMMUNITY_SESSION_IDLE_HOURS", "SESSION_IDLE_HOURS", float, 12.0, minimum=0.1),
    Setting("DATE_COMMUNITY_SESSION_MAX_DAYS", "SESSION_MAX_DAYS", float, 30.0, minimum=0.01),
    Setting("DATE_COMMUNITY_MAX_BODY_BYTES", "MAX_BODY_BYTES", int, 1 * MiB, minimum=1024),
    Setting("DATE_COMMUNITY_MAX_UPLOAD_BYTES", "MAX_UPLOAD_BYTES", int, 40 * MiB, minimum=1024),
    Setting("DATE_COMMUNITY_UPLOAD_MAX_PIXELS", "UPLOAD_MAX_PIXELS", int, 40_000_000, minimum=1),
    Setting("DATE_COMMUNITY_UPLOAD_MAX_PAGES", "UPLOAD_MAX_PAGES", int, 50, minimum=1),
    Setting("DATE_COMMUNITY_BACKUP_DIR", "BACKUP_DIR", str, "instance/backups"),
    Setting("SHIFT_CANCEL_CUTOFF_HOURS", "SHIFT_CANCEL_CUTOFF_HOURS", float, 48.0, minimum=0),
)
BY_ENV = {s.env: s for s in SETTINGS}
BY_KEY = {s.key: s for s in SETTINGS}

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def config_file(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get(CONFIG_FILE_ENV) or DEFAULT_CONFIG_FILE)


def _convert(setting: Setting, raw: Any, source: str) -> Any:
    def bad() -> ValidationError:
        return ValidationError("invalid_setting", field=setting.env, source=source)

    kind = setting.kind
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise bad()
    if kind is str:
        if not isinstance(raw, str | int | float) or isinstance(raw, bool):
            raise bad()
        return str(raw).strip()
    if isinstance(raw, bool):
        raise bad()
    try:
        value = kind(str(raw).strip()) if isinstance(raw, str) else kind(raw)
    except (TypeError, ValueError, OverflowError):
        raise bad() from None
    if kind is float and value != value:  # NaN
        raise bad()
    if setting.minimum is not None and value < setting.minimum:
        raise bad()
    if abs(value) > 2**53:  # beyond any sane size or count, and beyond exact floats
        raise bad()
    return value


def _read_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        raise ValidationError("invalid_setting", field=str(path), source=str(path)) from None
    unknown = sorted(set(data) - set(BY_ENV) - {TOWNS_TABLE})
    if unknown:
        raise ValidationError("invalid_setting", field=unknown[0], source=str(path))
    return data


def load(env: Mapping[str, str] | None = None, path: Path | None = None) -> dict[str, Any]:
    """Every setting by its app.config key.  Raises ValidationError("invalid_setting", field=...)."""
    env = os.environ if env is None else env
    path = path or config_file(env)
    from_file = _read_file(path)
    out: dict[str, Any] = {}
    for s in SETTINGS:
        if env.get(s.env) not in (None, ""):
            out[s.key] = _convert(s, env[s.env], "environment")
        elif s.env in from_file:
            out[s.key] = _convert(s, from_file[s.env], str(path))
        else:
            out[s.key] = s.default
    return out


def describe(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(variable, shown value) pairs with secrets masked, for ``doctor`` and logs."""
    rows = []
    for s in SETTINGS:
        value = values.get(s.key, s.default)
        shown = ("(set)" if value else "(unset)") if s.secret else repr(value)
        rows.append((s.env, shown))
    return rows


# --- several towns on one service ------------------------------------------------------------------
#
# ``[towns.<key>]`` tables in config.toml list the towns one process serves,
# each with its own host name, database and content folder.  With no such
# table the deployment is one town, configured by the settings above alone.

TOWNS_TABLE = "towns"
TOWN_FIELDS = ("host", "database", "content", "base_url", "secret_key", "backup_dir")
# Settings a town may set for itself in its table (the rest belong to the
# process or the machine: one mail relay, one proxy, one waitress body limit).
TOWN_SETTINGS = ("MAIL_FROM", "STAFF_EMAIL", "OFFICE_PHONE", "DATE_COMMUNITY_SCAN_RETENTION_DAYS",
                 "SHIFT_CANCEL_CUTOFF_HOURS")
_TOWN_KEY = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
_HOST = re.compile(r"(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*")


@dataclass(frozen=True)
class Town:
    key: str          # its name in config.toml and for `date-community --town`
    host: str         # the host name visitors use, lower case, no port
    database: str
    content: str = ""      # "" = DATE_COMMUNITY_CONTENT, else the project's content/ folder
    base_url: str = ""     # "" = links from the request's own host
    secret_key: str = ""   # "" = derived from SECRET_KEY and the key (town_secret)
    backup_dir: str = ""   # "" = BACKUP_DIR/<key>
    settings: tuple[tuple[str, Any], ...] = ()  # (app.config key, value) of its own TOWN_SETTINGS


def normalize_host(host: str) -> str:
    """A Host header as a town's host: lower case, without the port or a trailing dot."""
    host = (host or "").strip().lower()
    if host.startswith("["):  # an IPv6 literal keeps its colons
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0].rstrip(".") if ":" in host else host.rstrip(".")


def load_towns(env: Mapping[str, str] | None = None, path: Path | None = None) -> dict[str, Town]:
    """The ``[towns.<key>]`` tables of config.toml, in file order ({} when there are none).

    Raises ValidationError("invalid_setting", field="towns.<key>.<field>") for
    the first bad entry, so start-up stops with one line naming it.
    """
    env = os.environ if env is None else env
    path = path or config_file(env)
    table = _read_file(path).get(TOWNS_TABLE, {})
    source = str(path)

    def bad(field: str) -> ValidationError:
        return ValidationError("invalid_setting", field=f"{TOWNS_TABLE}.{field}", source=source)

    if not isinstance(table, dict):
        raise bad("")
    towns: dict[str, Town] = {}
    seen_hosts: dict[str, str] = {}
    seen_dbs: dict[str, str] = {}
    for key, entry in table.items():
        if not _TOWN_KEY.fullmatch(key):
            raise bad(key)
        if not isinstance(entry, dict):
            raise bad(key)
        unknown = sorted(set(entry) - set(TOWN_FIELDS) - set(TOWN_SETTINGS))
        if unknown:
            raise bad(f"{key}.{unknown[0]}")
        own = []
        for name in TOWN_SETTINGS:
            if name in entry:
                try:
                    own.append((BY_ENV[name].key, _convert(BY_ENV[name], entry[name], source)))
                except ValidationError:
                    raise bad(f"{key}.{name}") from None
        values = {}
        for name in TOWN_FIELDS:
            raw = entry.get(name, "")
            if not isinstance(raw, str):
                raise bad(f"{key}.{name}")
            values[name] = raw.strip()
        host = values["host"].lower()
        if not _HOST.fullmatch(host) or host in seen_hosts:
            raise bad(f"{key}.host")
        if not values["database"] or str(Path(values["database"]).resolve()) in seen_dbs:
            raise bad(f"{key}.database")
        if values["base_url"]:
            parts = _split_url(values["base_url"])
            # The app answers only for BASE_URL's host, so another host here
            # would make the town unreachable.
            if parts is None or parts.hostname != host:
                raise bad(f"{key}.base_url")
        if values["secret_key"] and len(values["secret_key"]) < 32:
            raise bad(f"{key}.secret_key")
        seen_hosts[host] = key
        seen_dbs[str(Path(values["database"]).resolve())] = key
        towns[key] = Town(key=key, **{**values, "host": host}, settings=tuple(own))
    default = _default_town_name(env, path, towns)
    if default and default not in towns:
        raise ValidationError("invalid_setting", field="DATE_COMMUNITY_DEFAULT_TOWN", source=source)
    return towns


def _split_url(url: str):
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return None
    return parts if parts.scheme in ("http", "https") and parts.hostname else None


def _default_town_name(env: Mapping[str, str], path: Path, towns: Mapping[str, Town]) -> str:
    return load(env, path)["DEFAULT_TOWN"] if towns else ""


def default_town(settings: Mapping[str, Any], towns: Mapping[str, Town]) -> Town | None:
    """DATE_COMMUNITY_DEFAULT_TOWN, else the first town listed; None with no towns."""
    if not towns:
        return None
    return towns.get(settings.get("DEFAULT_TOWN") or "") or next(iter(towns.values()))


def town_secret(shared: str, key: str) -> str:
    """A town's own SECRET_KEY from the shared one: a cookie signed for one town fails in every other."""
    if not shared:
        return ""
    return hmac.new(shared.encode(), f"date-community town {key}".encode(), hashlib.sha256).hexdigest()


def town_settings(settings: Mapping[str, Any], town: Town) -> dict[str, Any]:
    """The settings with the town's own database, content, address and secret in place."""
    return {**settings,
            **dict(town.settings),
            "DATABASE": town.database,
            "CONTENT_DIR": town.content or settings.get("CONTENT_DIR", ""),
            "BASE_URL": town.base_url,
            "SECRET_KEY": town.secret_key or town_secret(settings.get("SECRET_KEY", ""), town.key),
            "BACKUP_DIR": town.backup_dir or str(Path(settings.get("BACKUP_DIR") or "instance/backups") / town.key),
            "TOWN": town.key}
