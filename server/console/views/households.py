"""Hộ gia đình: households across years."""

from __future__ import annotations

from flask import render_template

from server.console import auth, blp


@blp.route("/households", methods=["GET"])
@auth.page("supervisor", "admin")
def households():
    return render_template("console/households.html", page=None)
