from __future__ import annotations

import os
from typing import Any

from flask import Flask, g, jsonify

from date_community import db as dbmod


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.update(DATABASE=str(dbmod.resolve_path(os.environ.get(dbmod.ENV_VAR))))
    if config:
        app.config.update(config)

    def get_db():
        if "db" not in g:
            g.db = dbmod.connect(app.config["DATABASE"])
        return g.db

    @app.teardown_appcontext
    def close_db(_exc):
        conn = g.pop("db", None)
        if conn is not None:
            conn.close()

    @app.get("/healthz")
    def healthz():
        ok = dbmod.integrity_ok(get_db()) if app.config.get("HEALTH_INTEGRITY") else True
        get_db().execute("SELECT 1")
        return jsonify(status="ok" if ok else "degraded")

    return app
