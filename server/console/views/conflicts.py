"""Xung đột: the conflict queue, side by side."""

from __future__ import annotations

from flask import render_template

from server.console import auth, blp


@blp.route("/conflicts", methods=["GET"])
@auth.page("supervisor", "admin")
def conflicts():
    return render_template("console/conflicts.html", page=None)
