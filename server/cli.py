"""The ``rasoat`` command: init, users, demo, serve, attachments, flags, and ``db`` (migrations, from Flask-Migrate)."""

from __future__ import annotations

import sys

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from server.db import db
from server.models import ROLES

DEMO_ACCOUNTS = (
    # username, role, areas, password
    ("admin", "admin", [], "demo-admin-2026"),
    ("giamsat", "supervisor", ["DEMO_COMMUNE"], "demo-supervisor-2026"),
    ("rasoat1", "enumerator", ["DEMO_VILLAGE"], "demo-enumerator-2026"),
)
DEMO_COMMUNE = "01-00004"  # Phường Ba Đình, Hà Nội (any commune would do)
DEMO_VILLAGE_SUFFIX = "t01"


def initialise() -> dict:
    """Migrate to head and load what every deployment needs. Idempotent; safe on a live database."""
    from flask_migrate import upgrade

    from server.services.areas import seed_official_areas

    upgrade(directory=current_app.extensions["migrate"].directory)
    created_areas = seed_official_areas()
    db.session.commit()
    loaded_forms = load_bundled_forms()
    return {"areas_created": created_areas, "forms_loaded": loaded_forms}


def load_bundled_forms() -> int:
    """Publish the bundled official forms if the form service is present (see forms issue)."""
    try:
        from server.services import forms as form_service
    except ImportError:
        return 0
    return form_service.load_bundled()


@click.command("init")
@with_appcontext
def init_command():
    """Migrate the database and load areas and bundled forms (idempotent)."""
    result = initialise()
    click.echo(f"database ready: {result['areas_created']} areas added, {result['forms_loaded']} forms loaded")


@click.group("user")
def user_group():
    """Manage users."""


@user_group.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--area", "areas", multiple=True, help="Area code; repeat for several.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--display-name", default="")
@with_appcontext
def user_create(username, role, areas, password_stdin, display_name):
    """Create a user (the password is read from stdin, never from the command line)."""
    from server.errors import Problem
    from server.scoping import Scope
    from server.services.users import create_user

    if not password_stdin:
        raise click.UsageError("pass --password-stdin and the password on standard input")
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        user = create_user(Scope(None), username=username, password=password, role=role,
                           areas=list(areas), display_name=display_name)
    except Problem as exc:
        errors = "; ".join(f"{e['path']}: {e['message']}" for e in exc.errors or [])
        raise click.ClickException(f"{exc.detail}{' (' + errors + ')' if errors else ''}") from exc
    click.echo(f"created {user.role} {user.username} ({user.id})")


def ensure_demo() -> list[tuple[str, str, str]]:
    """Create the demo village and accounts if missing; returns (username, role, password)."""
    from server.models import Area, User
    from server.scoping import Scope
    from server.services.areas import create_village
    from server.services.users import create_user

    if not current_app.config["DEMO"] and current_app.config["ENV"] == "production":
        raise click.ClickException("demo accounts are not created in production")
    village = f"{DEMO_COMMUNE}-{DEMO_VILLAGE_SUFFIX}"
    if db.session.get(Area, village) is None:
        create_village(Scope(None), parent=DEMO_COMMUNE, code=DEMO_VILLAGE_SUFFIX, name="Tổ dân phố số 1 (demo)")
    areas = {"DEMO_COMMUNE": DEMO_COMMUNE, "DEMO_VILLAGE": village}
    out = []
    for username, role, area_keys, password in DEMO_ACCOUNTS:
        exists = db.session.execute(sa.select(User.id).where(User.username == username)).first()
        if not exists:
            create_user(Scope(None), username=username, password=password, role=role,
                        areas=[areas[k] for k in area_keys], display_name=f"Demo {role}")
        out.append((username, role, password))
    return out


@click.command("demo")
@with_appcontext
def demo_command():
    """Initialise, then create demo accounts (never in production) and print their credentials."""
    initialise()
    accounts = ensure_demo()
    click.echo("Demo accounts (demo mode only — do not use in production):")
    for username, role, password in accounts:
        click.echo(f"  {role:<11} {username:<8} password: {password}")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option("--threads", default=4, show_default=True, type=int)
def serve_command(host, port, workers, threads):
    """Serve the app under gunicorn (gthread workers)."""
    from server.wsgi_server import run

    run(host=host, port=port, workers=workers, threads=threads)


@click.group("attachments")
def attachments_group():
    """Attachment files."""


@attachments_group.command("prune")
@click.option("--older-than-days", type=click.IntRange(min=0), default=None,
              help="Age of the uploads to delete [default: ATTACHMENT_UNREFERENCED_DAYS, 14].")
@with_appcontext
def attachments_prune(older_than_days):
    """Delete uploads that no submission of their uploader lists, once old enough, and the files
    no upload is left for."""
    from server.services.attachments import prune

    days = current_app.config["ATTACHMENT_UNREFERENCED_DAYS"] if older_than_days is None else older_than_days
    result = prune(days)
    click.echo(f"pruned {result['uploads']} uploads older than {days} days that no submission lists; "
               f"deleted {result['files']} files ({result['bytes']} bytes)")


@click.group("flags")
def flags_group():
    """Quality flags of submissions (docs/quality.md)."""


@flags_group.command("refresh")
@click.option("--area", default=None, help="Only this area and everything under it (a province, commune or village).")
@click.option("--year", type=click.IntRange(min=2000, max=2100), default=None, help="Only this review year.")
@with_appcontext
def flags_refresh(area, year):
    """Recompute the quality flags of whole villages from the stored answers, with the current
    thresholds (after the upgrade that added them, after changing RASOAT_QUALITY_*, or to update
    older submissions against the newer ones of their village)."""
    from server.services.quality import refresh

    result = refresh(area=area, year=year)
    click.echo(f"quality flags: {result['submissions']} submissions read, {result['changed']} changed")


def register(app: Flask) -> None:
    for command in (init_command, user_group, demo_command, serve_command, attachments_group, flags_group):
        app.cli.add_command(command)


def _create_app():
    from server import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False, add_version_option=False)
def main():
    """rasoat: household poverty review server."""


if __name__ == "__main__":  # pragma: no cover
    main()
