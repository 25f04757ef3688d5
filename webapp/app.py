"""The application factory."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from flask import Flask, g, jsonify, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from date_community import config as settings
from date_community import db as dbmod
from date_community import demo
from date_community import i18n
from date_community.errors import DateCommunityError, disk_full_cause

from . import bodylimit, fields, formatting, forwarding, locale, security, spool, staticfiles, throttle
from .database import close_db, get_db
from .extensions import babel, csrf, login_manager

TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
log = logging.getLogger(__name__)


def _config_from_settings() -> dict[str, Any]:
    """The deployment's settings (environment, then instance/config.toml), as app.config keys."""
    try:
        values = settings.load()
    except DateCommunityError as exc:
        # One line naming the setting, not a traceback, stops start-up.
        raise SystemExit(f"date-community: {exc.message}") from None
    values["DATABASE"] = str(dbmod.resolve_path(values["DATABASE"] or None))
    values["DEBUG"] = os.environ.get("FLASK_DEBUG") == "1"
    return values


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.request_class = spool.ClosingRequest  # spooled uploads are closed even when a full disk stops the parse
    app.config.update(_config_from_settings())
    if config:
        app.config.update(config)
    debug_like = app.config.get("DEBUG") or app.config.get("TESTING")
    if not app.config.get("SECRET_KEY"):
        if not debug_like:
            raise RuntimeError("SECRET_KEY must be set outside debug mode")
        app.config["SECRET_KEY"] = os.urandom(32).hex()
    if "SESSION_COOKIE_SECURE" not in (config or {}):
        # Flask's own default is False, so setdefault would never apply: outside
        # debug and tests the session cookie is sent over HTTPS only.
        app.config["SESSION_COOKIE_SECURE"] = not debug_like
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        BABEL_DEFAULT_LOCALE=i18n.DEFAULT_LOCALE,
        BABEL_DEFAULT_TIMEZONE="Asia/Tokyo",
        BABEL_TRANSLATION_DIRECTORIES=str(TRANSLATIONS),
        WTF_CSRF_TIME_LIMIT=None,  # no time limits: a slow reader's form must still submit
    )

    # Create or upgrade the schema once at start-up, not on every request.
    probe = dbmod.connect(app.config["DATABASE"])
    try:
        # Fixed for the life of the app, so every page, cached or not, shows the
        # same "demo data" banner: the page cache never holds a banner-less copy.
        app.extensions["demo_database"] = demo.is_demo_database(probe)
    finally:
        probe.close()

    forwarding.init_app(app)  # ProxyFix for TRUSTED_PROXIES hops; TRUSTED_HOSTS from BASE_URL
    bodylimit.init_app(app)  # first hook: refuse oversized bodies before CSRF reads the form
    babel.init_app(app, locale_selector=locale.select_locale)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"
    formatting.register(app)
    staticfiles.init_app(app)  # ?v=<file hash> on static URLs, for the proxy's long cache

    fields.register(app)  # bounded <int:...> (ids beyond SQLite's 64 bits are a 404), before any route
    from . import auth, public, staff, volunteer

    app.register_blueprint(public.bp)
    app.register_blueprint(auth.bp)
    from . import account

    app.register_blueprint(account.bp)  # /account/password: every signed-in user's own password
    app.register_blueprint(volunteer.bp, url_prefix="/volunteer")
    app.register_blueprint(volunteer.feed_bp)  # /calendar/<token>.ics: no login, the token is the key
    app.register_blueprint(staff.bp, url_prefix="/staff")
    from . import tourism

    app.register_blueprint(tourism.bp)  # /sites, /tours, /map: public pages for visitors
    from . import signs

    app.register_blueprint(signs.bp)  # /q/<code>: the QR signs' landing URL, counts scans
    from . import opendata

    app.register_blueprint(opendata.bp)  # /opendata/*.csv, /api/sites.geojson: open data downloads
    from . import ar

    app.register_blueprint(ar.bp)  # /sites/<slug>/ar (AR camera view), /api/sites/nearby.json
    throttle.init_app(app)  # after the blueprints: it wraps the sign-up view

    @app.context_processor
    def inject():
        return {
            "html_lang": locale.html_lang(),
            "current_locale": locale.select_locale(),
            "locales": i18n.LOCALES,
            "native_names": i18n.NATIVE_NAMES,
            "html_langs": i18n.HTML_LANG,
            "switch_url": locale.switch_url,
            "office_phone": app.config["OFFICE_PHONE"],
            "demo_database": app.extensions["demo_database"],
        }

    @app.after_request
    def after(response):
        locale.remember_choice(response)
        security.add_headers(response)
        if request.path.startswith(("/staff", "/volunteer")) or g.get("personal_data"):
            security.no_store(response)
        # Pages differ by language cookie and header; caches must know.
        response.vary.add("Accept-Language")
        response.vary.add("Cookie")
        return response

    app.teardown_appcontext(close_db)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if request.path.startswith("/api/") or request.path == "/healthz":
            return jsonify(error=exc.name), exc.code
        return render_template("error.html", code=exc.code, title=_error_title(exc.code)), exc.code

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        cause = disk_full_cause(exc)
        if cause:
            # SQLite rolled the transaction back (write_transaction) and a spooled upload's
            # temporary file is already unlinked, so nothing is half-written; say so and
            # name the cause in one line, without request data.
            log.error("disk full (%s): nothing saved on %s %s", cause, request.method, request.path)
            if request.path.startswith("/api/") or request.path == "/healthz":
                return jsonify(error="disk_full"), 503
            return render_template("error.html", code=503, title=_error_title(503)), 503
        # Logged without request data: form fields may hold personal data.
        log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.path)
        return render_template("error.html", code=500, title=_error_title(500)), 500

    @app.get("/healthz")
    def healthz():
        get_db().execute("SELECT 1")
        return jsonify(status="ok")

    _start_mail_worker(app)
    return app


def _start_mail_worker(app: Flask) -> None:
    """Send the outbox every 30 s in a daemon thread (stop it with app.extensions["mail_worker"].stop())."""
    if not app.config.get("MAIL_SERVER") or app.config.get("TESTING"):
        return
    from date_community import mailer

    settings = mailer.MailSettings.from_config(app.config)
    app.extensions["mail_worker"] = mailer.DeliveryWorker(app.config["DATABASE"], settings).start()


def _error_title(code: int | None) -> str:
    return {
        400: _("Something went wrong with the form"),
        403: _("You cannot see this page"),
        404: _("Page not found"),
        405: _("Something went wrong with the form"),
        413: _("The file is too large"),
        429: _("Too many attempts"),
        503: _("The system cannot save right now"),
    }.get(code or 500, _("Sorry, there is a problem with the service"))
