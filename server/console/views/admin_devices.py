"""Quản trị › Thiết bị: phones with their last sync and what they still hold, and revoking a
lost one (a confirmation first: it ends every session on it for good); through
``server.services.devices``, like the API: admins, and supervisors for their own areas."""

from __future__ import annotations

from flask import g, request

from server.console import auth, blp, pages
from server.console.views.admin_users import render
from server.errors import Problem
from server.services import devices as service


@blp.route("/admin/devices", methods=["GET"])
@auth.page("admin", "supervisor")
def admin_devices(problem=None, status=200, confirming=None):
    page = service.list_devices(g.scope, cursor=pages.text_arg("cursor", 2000), limit=50)
    owners = service.owners(page.items)
    return render("console/admin/devices.html", status, page=page, owners=owners, problem=problem,
                  confirming=confirming)


@blp.route("/admin/devices/<device_id>/revoke", methods=["POST"])
@auth.page("admin", "supervisor")
def admin_device_revoke(device_id: str):
    if request.form.get("confirm") != "yes":
        return admin_devices.__wrapped__(confirming=device_id)
    try:
        service.revoke_device(g.scope, device_id, g.user)
    except Problem as exc:
        return admin_devices.__wrapped__(problem=pages.problem_messages(exc)[0], status=exc.status)
    return pages.redirect_done("console.admin_devices", "device_revoked")
