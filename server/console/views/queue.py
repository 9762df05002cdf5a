"""Hồ sơ: the supervisors' queue."""

from __future__ import annotations

from flask import render_template

from server.console import auth, blp


@blp.route("/submissions", methods=["GET"])
@auth.page("supervisor", "admin")
def queue():
    return render_template("console/queue.html", page=None)
