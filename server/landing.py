"""``/``: what a newcomer sees on opening the server in a browser. Vietnamese first, with an
English switch that is remembered (a cookie), every word from the message catalogues."""

from __future__ import annotations

from flask import Blueprint, current_app, make_response, render_template, request
from sqlalchemy import select

from server import i18n
from server.db import db

blp = Blueprint("landing", __name__)


def _demo_accounts() -> list[tuple[str, str, str]]:
    if not current_app.config["DEMO"]:
        return []
    from server.cli import DEMO_ACCOUNTS
    from server.models import User

    existing = set(db.session.execute(select(User.username).where(
        User.username.in_([a[0] for a in DEMO_ACCOUNTS]))).scalars())
    return [(role, username, password) for username, role, _, password in DEMO_ACCOUNTS if username in existing]


@blp.route("/", methods=["GET"])
def index():
    lang = i18n.language()
    other = "en" if lang == "vi" else "vi"
    body = render_template("landing.html", lang=lang, other=other,
                           t=lambda key, **values: i18n.translate(key, lang, **values),
                           database={"postgresql": "PostgreSQL", "sqlite": "SQLite"}.get(db.engine.dialect.name,
                                                                                       db.engine.dialect.name),
                           demo=_demo_accounts())
    response = make_response(body)
    if request.args.get("lang") in i18n.LANGUAGES:
        response.set_cookie(i18n.COOKIE, lang, max_age=365 * 24 * 3600, samesite="Strict", httponly=True,
                            secure=current_app.config["ENV"] == "production")
    return response
