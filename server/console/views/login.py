"""Logging in and out of the console, and its front door."""

from __future__ import annotations

from flask import g, make_response, redirect, render_template, request, url_for

from server.console import auth, blp
from server.errors import Problem
from server.services import sessions


@blp.route("/", methods=["GET"])
@auth.page()
def index():
    """The front door: the first page this user may open (the dashboard, else the queue).
    An enumerator works in the field app, and is told so."""
    for _key, endpoint in auth.NAV:
        if auth.may_open(endpoint):
            return redirect(url_for(endpoint), code=303)
    return render_template("console/error.html", status=403, key="enumerator", detail=None), 403


@blp.route("/login", methods=["GET", "POST"])
def login():
    target = auth.safe_next(request.values.get("next"))
    if request.method == "GET":
        if auth.current_session() is not None:
            return redirect(target or url_for("console.index"), code=303)
        return render_template("console/login.html", next=target, username="", error=None)
    username = request.form.get("username", "")[:64]
    password = request.form.get("password", "")[:1024]
    if not username.strip() or not password:
        return render_template("console/login.html", next=target, username=username,
                               error=auth.t("console.login.missing")), 422
    try:
        session = sessions.open_console_session(username, password, request.remote_addr)
    except Problem as problem:
        if problem.code == "request.rate_limited":
            minutes = max(1, -(-int(problem.headers.get("Retry-After", "60")) // 60))
            error = auth.t("console.login.throttled", minutes=minutes)
        elif problem.code == "auth.invalid_credentials":
            error = auth.t("console.login.invalid")
        else:
            raise
        body = render_template("console/login.html", next=target, username=username, error=error)
        return body, problem.status, {k: v for k, v in problem.headers.items() if k == "Retry-After"}
    previous = auth.current_session()
    if previous is not None and previous.id != session.id:
        # Someone else logs in on this browser (a shared commune computer): the session the
        # cookie held ends now, not at its expiry.
        sessions.end_session(previous)
    response = make_response(redirect(target or url_for("console.index"), code=303))
    auth.set_session_cookie(response, session)
    response.delete_cookie(auth.PRE_COOKIE, path=auth.COOKIE_PATH)
    return response


@blp.route("/logout", methods=["POST"])
def logout():
    session = auth.current_session()
    if session is not None:
        sessions.end_session(session)
    g.console_session = None
    response = make_response(redirect(url_for("console.login", out=1), code=303))
    auth.clear_session_cookie(response)
    return response
