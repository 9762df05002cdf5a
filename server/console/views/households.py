"""Hộ gia đình: the household records of the caller's areas, and one household across years
(its classification each year, its visits, its open conflicts), through the households service."""

from __future__ import annotations

from flask import g, render_template, request

from server.console import auth, blp
from server.errors import Problem
from server.services import households as household_service
from server.services import users as user_service

CLASSIFICATIONS = ("poor", "near_poor", "average", "not_poor")
PAGE_SIZE = 50


@blp.route("/households", methods=["GET"])
@auth.page("supervisor", "admin")
def households():
    q = (request.args.get("q") or "").strip()[:100] or None
    classification = request.args.get("classification") if request.args.get("classification") in CLASSIFICATIONS \
        else None
    cursor = request.args.get("cursor") or None
    try:
        page = household_service.list_households(g.scope, area=None, classification=classification, q=q,
                                                 cursor=cursor, limit=PAGE_SIZE)
    except Problem:  # an expired or foreign cursor: the first page
        page, cursor = household_service.list_households(g.scope, area=None, classification=classification, q=q,
                                                         cursor=None, limit=PAGE_SIZE), None
    return render_template("console/households.html", page=page, q=q, classification=classification,
                           classifications=CLASSIFICATIONS, cursor=cursor)


@blp.route("/households/<uuid:household_id>", methods=["GET"])
@auth.page("supervisor", "admin")
def household(household_id):
    found = household_service.get_household(g.scope, household_id)
    people = user_service.display_names({s.enumerator_id for s in found["submissions"]})
    years = sorted(found["years"], key=lambda y: y.year, reverse=True)
    submissions = sorted(found["submissions"], key=lambda s: s.received_at, reverse=True)
    return render_template("console/household.html", household=found["household"], years=years,
                           submissions=submissions, conflicts=found["conflicts"], revisions=found["revisions"],
                           people=people)
