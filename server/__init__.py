"""rasoat server: the Flask application factory."""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from flask_migrate import Migrate
from flask_smorest import Api
from werkzeug.middleware.proxy_fix import ProxyFix

from server import config as configuration
from server import errors, logs
from server.db import configure_sqlite, json_dumps, postgres_engine_options
from server.db import db as database  # not `db`: that name is the module server.db
from server.headers import install_security_headers
from server.http import install_request_guards, install_unit_of_work
from server.jsonio import OrjsonProvider
from server.security.current import public

MIGRATIONS_DIR = os.path.join(os.path.dirname(__file__), "migrations")

API_SPEC = {
    "API_TITLE": "rasoat",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api",
    "OPENAPI_JSON_PATH": "v1/openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "docs",
    "OPENAPI_SWAGGER_UI_URL": "/api/docs/assets/",
    "API_SPEC_OPTIONS": {
        "info": {"description": "Household poverty review: forms, offline sync, supervision. "
                                "Errors are application/problem+json (RFC 9457)."},
        "security": [{"bearerAuth": []}],
        "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                                          "bearerFormat": "JWT"}}},
    },
}


class RasoatApi(Api):
    """flask-smorest's Api, rendering errors as problem+json like the rest of the app."""

    def handle_http_exception(self, error):
        return errors.handle_http_exception(error)


migrate = Migrate()


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_path=os.environ.get("RASOAT_INSTANCE_PATH") or None,
                instance_relative_config=True)
    settings = dict(configuration.DEFAULTS)
    settings.update(configuration.from_environment(os.environ))
    settings.update(config or {})
    settings["SQLALCHEMY_ENGINE_OPTIONS"] = {"json_serializer": json_dumps,
                                             **(settings.get("SQLALCHEMY_ENGINE_OPTIONS") or {})}
    configuration.finalise(settings, Path(app.instance_path))
    if settings["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        settings["SQLALCHEMY_ENGINE_OPTIONS"] = postgres_engine_options(
            settings["SQLALCHEMY_ENGINE_OPTIONS"], settings["DATABASE_CONNECT_TIMEOUT_SECONDS"])
    app.config.update(settings)
    app.config.update(API_SPEC)
    app.json = OrjsonProvider(app)

    logs.configure(app.config["LOG_LEVEL"])
    if app.config["TRUSTED_PROXIES"]:
        n = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    database.init_app(app)
    with app.app_context():
        if database.engine.dialect.name == "sqlite":
            configure_sqlite(database.engine)
    migrate.init_app(app, database, directory=MIGRATIONS_DIR, render_as_batch=True, compare_type=True)

    from server.storage import storage_for

    app.extensions["rasoat_storage"] = storage_for(app)
    logs.install_request_logging(app)
    install_request_guards(app)
    install_unit_of_work(app)
    errors.register(app)
    install_security_headers(app)

    api = RasoatApi(app)
    from server.api import (areas, assignments, audit, auth, devices, forms, health, households, reviews, season,
                            sync, users)

    app.register_blueprint(health.blp)
    from server import landing

    app.register_blueprint(landing.blp)
    from server.field_app import app as field_app  # /app/: the enumerators' offline web app

    field_app.register(app)
    from server import console

    console.register(app)
    for module in (auth, users, devices, areas, forms, sync, households, assignments, reviews, audit, season):
        api.register_blueprint(module.blp)
    from server.api import reports  # reports and exports

    api.register_blueprint(reports.blp)
    # flask-smorest's API description and its viewer: public on purpose (a browser cannot send a
    # bearer token to fetch them), and marked so, like every other view under /api/.
    for endpoint in ("api-docs.openapi_json", "api-docs.openapi_swagger_ui"):
        if endpoint in app.view_functions:
            app.view_functions[endpoint] = public(functools.partial(app.view_functions[endpoint]))
    from server import cli

    cli.register(app)
    return app

