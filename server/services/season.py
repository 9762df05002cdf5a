"""The commune's review season (Decision 24/2021/QĐ-TTg): the village meeting's vote on each
household, complaints, and the commune's decision that closes the year (after it, that year's
records in the commune are final: a push or a correction is refused, ``year_closed``; an admin
may reopen it, audited)."""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa

from server import exports
from server.db import db, utcnow
from server.errors import Problem, invalid
from server.models import (
    Area,
    CommuneDecision,
    Complaint,
    Household,
    HouseholdYear,
    Submission,
    SubmissionReview,
    User,
    VillageMeeting,
)
from server.pagination import Page, paginate
from server.printing import table_pdf
from server.scoping import Scope
from server.services import audit, changes
from server.services.areas import commune_of

OUTCOMES = ("upheld", "rejected")


def year_closed(commune_code: str, year: int) -> bool:
    return db.session.execute(sa.select(sa.literal(True)).where(
        CommuneDecision.commune_code == commune_code, CommuneDecision.year == year,
        CommuneDecision.reopened_at.is_(None)).limit(1)).scalar_one_or_none() is not None


def _open_year(area_code: str, year: int) -> None:
    if year_closed(commune_of(area_code), year):
        raise Problem("season.closed", f"The commune's decision has closed review year {year}: its records are "
                                       "final. An admin can reopen it.")


def _household(scope: Scope, household_id: uuid.UUID, *, lock: bool = False) -> Household:
    query = sa.select(Household).where(Household.id == household_id, scope.clause(Household.area_code))
    household = db.session.execute(query.with_for_update() if lock else query).scalar_one_or_none()
    if household is None:
        raise Problem("request.not_found", "No such household in your areas.")
    return household


# --- the village meeting ----------------------------------------------------------------------

def record_meeting(scope: Scope, user: User, household_id: uuid.UUID, *, year: int, held_on: dt.date,
                   present: int, agreeing: int) -> VillageMeeting:
    """The meeting's vote on the household's class in ``year``. Under 50 % of those present agreeing
    sends the visit back for a new survey (review state ``changes_requested``, which the phone
    hears at its next pull)."""
    household = _household(scope, household_id, lock=True)
    _open_year(household.area_code, year)
    if present < 1:
        raise invalid("present", "invalid", "At least one person attends a meeting.")
    if not 0 <= agreeing <= present:
        raise invalid("agreeing", "invalid", "Between 0 and the number present.")
    row = db.session.get(HouseholdYear, (household.id, year))
    if row is None:
        raise invalid("year", "no_visit", f"The household has no visit counted for {year}.")
    agreed = 2 * agreeing >= present
    now = utcnow()
    meeting = VillageMeeting(household_id=household.id, year=year, submission_id=row.submission_id,
                             area_code=household.area_code, held_on=held_on, present=present, agreeing=agreeing,
                             agreed=agreed, recorded_by=user.id, created_at=now)
    db.session.add(meeting)
    if not agreed:
        submission = db.session.get(Submission, row.submission_id, with_for_update=True)
        comment = (f"Họp thôn ngày {held_on.strftime('%d/%m/%Y')}: {agreeing}/{present} người đồng ý (dưới 50 %). "
                   "Rà soát lại hộ.")
        submission.review_state, submission.review_comment = "changes_requested", comment
        submission.reviewed_at = submission.updated_at = now
        db.session.add(SubmissionReview(submission_id=submission.id, rev=submission.rev, action="request_changes",
                                        state="changes_requested", comment=comment, reviewer_id=user.id,
                                        created_at=now))
        changes.record([changes.review_row(submission.id, submission.rev, submission.enumerator_id,
                                           submission.area_code, at=now)])
    db.session.flush()
    audit.record("season.meeting", actor=user, target_type="household", target_id=household.id,
                 area_code=household.area_code, year=year, present=present, agreeing=agreeing, agreed=agreed)
    db.session.commit()
    return meeting


def meetings(scope: Scope, household_id: uuid.UUID) -> list[VillageMeeting]:
    _household(scope, household_id)
    return list(db.session.execute(sa.select(VillageMeeting).where(VillageMeeting.household_id == household_id)
                                   .order_by(VillageMeeting.held_on, VillageMeeting.created_at)).scalars())


# --- complaints -------------------------------------------------------------------------------

def add_complaint(scope: Scope, user: User, household_id: uuid.UUID, *, year: int, received_on: dt.date,
                  text: str) -> Complaint:
    household = _household(scope, household_id)
    _open_year(household.area_code, year)
    if not text.strip():
        raise invalid("text", "required", "Write what the household complains about.")
    complaint = Complaint(household_id=household.id, year=year, area_code=household.area_code,
                          received_on=received_on, text=text.strip(), status="open", created_by=user.id,
                          created_at=utcnow())
    db.session.add(complaint)
    db.session.flush()
    audit.record("season.complaint", actor=user, target_type="complaint", target_id=complaint.id,
                 area_code=household.area_code, household_id=str(household.id), year=year)
    db.session.commit()
    return complaint


def resolve_complaint(scope: Scope, user: User, complaint_id: uuid.UUID, *, outcome: str,
                      resolution: str) -> Complaint:
    complaint = db.session.execute(sa.select(Complaint).where(
        Complaint.id == complaint_id, scope.clause(Complaint.area_code)).with_for_update()).scalar_one_or_none()
    if complaint is None:
        raise Problem("request.not_found", "No such complaint in your areas.")
    if complaint.status != "open":
        raise Problem("request.conflict", "This complaint is already resolved.")
    _open_year(complaint.area_code, complaint.year)
    if not resolution.strip():
        raise invalid("resolution", "required", "Say how the complaint was settled.")
    complaint.status, complaint.outcome, complaint.resolution = "resolved", outcome, resolution.strip()
    complaint.resolved_by, complaint.resolved_at = user.id, utcnow()
    audit.record("season.complaint_resolved", actor=user, target_type="complaint", target_id=complaint.id,
                 area_code=complaint.area_code, outcome=outcome)
    db.session.commit()
    return complaint


def list_complaints(scope: Scope, *, area: str | None, year: int | None, status: str | None, cursor: str | None,
                    limit: int) -> Page:
    query = sa.select(Complaint).where(scope.clause(Complaint.area_code))
    if area:
        query = query.where(Scope((area,)).clause(Complaint.area_code))
    if year:
        query = query.where(Complaint.year == year)
    if status:
        query = query.where(Complaint.status == status)
    return paginate(query, key=Complaint.id, cursor=cursor, limit=limit, purpose="complaints")


# --- the commune's decision -------------------------------------------------------------------

def _commune(scope: Scope, code: str) -> Area:
    area = db.session.get(Area, code)
    if area is None or not scope.covers(code):
        raise Problem("request.not_found", f"No area {code!r} in your areas.")
    if area.level != "commune":
        raise invalid("code", "not_commune", "The decision is the commune's.")
    return area


def record_decision(scope: Scope, user: User, commune_code: str, *, year: int, number: str,
                    decided_on: dt.date) -> CommuneDecision:
    area = _commune(scope, commune_code)
    if year_closed(area.code, year):
        raise Problem("season.closed", f"Review year {year} of this commune is already closed.")
    if not number.strip():
        raise invalid("number", "required", "The decision's number, e.g. 123/QĐ-UBND.")
    decision = CommuneDecision(commune_code=area.code, year=year, number=number.strip(), decided_on=decided_on,
                               recorded_by=user.id, created_at=utcnow())
    db.session.add(decision)
    db.session.flush()
    audit.record("season.decision", actor=user, target_type="commune_decision", target_id=decision.id,
                 area_code=area.code, year=year, number=decision.number)
    db.session.commit()
    return decision


def reopen_year(scope: Scope, admin: User, commune_code: str, year: int, reason: str) -> CommuneDecision:
    area = _commune(scope, commune_code)
    if not reason.strip():
        raise invalid("reason", "required", "Say why the closed year is reopened.")
    decision = db.session.execute(sa.select(CommuneDecision).where(
        CommuneDecision.commune_code == area.code, CommuneDecision.year == year,
        CommuneDecision.reopened_at.is_(None)).with_for_update()).scalar_one_or_none()
    if decision is None:
        raise Problem("request.not_found", f"Review year {year} of this commune is not closed.")
    decision.reopened_at, decision.reopened_by, decision.reopen_reason = utcnow(), admin.id, reason.strip()
    audit.record("season.reopen", actor=admin, target_type="commune_decision", target_id=decision.id,
                 area_code=area.code, year=year, reason=decision.reopen_reason)
    db.session.commit()
    return decision


def decisions(scope: Scope, commune_code: str) -> list[CommuneDecision]:
    area = _commune(scope, commune_code)
    return list(db.session.execute(sa.select(CommuneDecision).where(CommuneDecision.commune_code == area.code)
                                   .order_by(CommuneDecision.year, CommuneDecision.created_at)).scalars())


# --- the public posting list ------------------------------------------------------------------

CLASS_LABELS = {"poor": "Hộ nghèo", "near_poor": "Hộ cận nghèo"}
POSTED_COLUMNS = ("STT", "Họ và tên chủ hộ", "Địa chỉ", "Thôn", "Đề nghị")


def posting_list(scope: Scope, village_code: str, year: int) -> dict:
    """The list a village posts publicly (Decision 24/2021): the households proposed as poor and
    near-poor in ``year``, by their counted visit, with only what is posted: the head's name,
    the address, the village and the proposed class. No ID numbers, no incomes, no scores."""
    village = db.session.get(Area, village_code)
    if village is None or not scope.covers(village_code):
        raise Problem("request.not_found", f"No area {village_code!r} in your areas.")
    if village.level != "village":
        raise invalid("area", "not_village", "A posting list is per village.")
    commune = db.session.get(Area, village.parent_code)
    rows = db.session.execute(
        sa.select(Household.head_name, Household.answers, HouseholdYear.classification)
        .join(HouseholdYear, HouseholdYear.household_id == Household.id)
        .join(Submission, Submission.id == HouseholdYear.submission_id)
        .where(HouseholdYear.year == year, HouseholdYear.area_code == village.code,
               HouseholdYear.classification.in_(tuple(CLASS_LABELS)), Submission.review_state != "rejected")
        .order_by(sa.case((HouseholdYear.classification == "poor", 0), else_=1), Household.head_name_folded,
                  Household.id)).all()
    entries = [{"no": i, "head_name": head or "", "address": str((answers or {}).get("address") or ""),
                "village": village.name, "classification": cls, "label": CLASS_LABELS[cls]}
               for i, (head, answers, cls) in enumerate(rows, start=1)]
    return {"title": f"DANH SÁCH HỘ NGHÈO, HỘ CẬN NGHÈO ĐỀ NGHỊ NĂM {year}",
            "place": f"{village.name}, {commune.name if commune else ''}".strip(", "),
            "year": year, "village": village.code, "households": entries,
            "counts": {cls: sum(e["classification"] == cls for e in entries) for cls in CLASS_LABELS}}


POSTING_FORMATS = ("pdf", "xlsx")
POSTING_WIDTHS = (12, 52, 62, 34, 30)  # mm on the printed page, per column


def posting_file(scope: Scope, village_code: str, year: int, fmt: str) -> tuple[bytes, str, str]:
    """The posting list as a file to print (``pdf``) or to edit (``xlsx``): (bytes, media type,
    file name). Audited: it names households."""
    listing = posting_list(scope, village_code, year)
    audit_posting(village_code, year, fmt, listing)
    rows = [(h["no"], h["head_name"], h["address"], h["village"], h["label"]) for h in listing["households"]]
    name = f"danh-sach-niem-yet-{village_code}-{year}"
    if fmt == "xlsx":
        body = exports.xlsx_bytes({"Danh sách": (POSTED_COLUMNS, rows)})
        return body, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", f"{name}.xlsx"
    counts = listing["counts"]
    footer = (f"Tổng số: {counts['poor']} hộ nghèo, {counts['near_poor']} hộ cận nghèo. "
              f"Niêm yết ngày {dt.date.today().strftime('%d/%m/%Y')}.")
    body = table_pdf(listing["title"], listing["place"], POSTED_COLUMNS, rows, POSTING_WIDTHS, footer)
    return body, "application/pdf", f"{name}.pdf"


def audit_posting(village_code: str, year: int, fmt: str, listing: dict) -> None:
    """A read that names households: its entry is committed at once (``audit.record_read``)."""
    audit.record_read("season.posting_list", target_type="area", target_id=village_code, area_code=village_code,
                      year=year, format=fmt, households=len(listing["households"]))


# --- the village meeting's roll (the console's page) ------------------------------------------

def meeting_roll(scope: Scope, village_code: str, year: int) -> list[dict]:
    """The households the village's meeting votes on in ``year``: every household whose counted
    visit of the year lies in the village (the proposed poor and near-poor first), with the
    latest vote recorded on each (None: not voted yet)."""
    village = db.session.get(Area, village_code)
    if village is None or not scope.covers(village_code):
        raise Problem("request.not_found", f"No area {village_code!r} in your areas.")
    if village.level != "village":
        raise invalid("area", "not_village", "A village meeting is per village.")
    rows = db.session.execute(
        sa.select(Household.id, Household.household_code, Household.head_name, HouseholdYear.classification,
                  Submission.review_state)
        .join(HouseholdYear, HouseholdYear.household_id == Household.id)
        .join(Submission, Submission.id == HouseholdYear.submission_id)
        .where(HouseholdYear.year == year, HouseholdYear.area_code == village.code)
        .order_by(sa.case((HouseholdYear.classification == "poor", 0),
                          (HouseholdYear.classification == "near_poor", 1), else_=2),
                  Household.head_name_folded, Household.id)).all()
    votes: dict[uuid.UUID, VillageMeeting] = {}
    if rows:
        for meeting in db.session.execute(
                sa.select(VillageMeeting).where(VillageMeeting.year == year, VillageMeeting.area_code == village.code)
                .order_by(VillageMeeting.held_on, VillageMeeting.created_at)).scalars():
            votes[meeting.household_id] = meeting  # the latest wins
    return [{"household_id": hid, "household_code": code, "head_name": head or "", "classification": cls,
             "review_state": state, "meeting": votes.get(hid)} for hid, code, head, cls, state in rows]


def households_of(scope: Scope, village_code: str, year: int) -> list[dict]:
    """The households counted in the village in ``year`` (for choosing one, e.g. a complaint's)."""
    return [{k: row[k] for k in ("household_id", "household_code", "head_name", "classification")}
            for row in meeting_roll(scope, village_code, year)]


def household_names(household_ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[str | None, str]]:
    """Household id -> (household code, head's name), for listing what ids name (the callers'
    rows already passed the scope)."""
    if not household_ids:
        return {}
    return {hid: (code, head or "") for hid, code, head in db.session.execute(
        sa.select(Household.id, Household.household_code, Household.head_name)
        .where(Household.id.in_(set(household_ids))))}


def year_summary(scope: Scope, commune_code: str, year: int) -> dict:
    """Where the commune's season stands in ``year``, before its decision: households counted by
    classification and by review state of their counted visit, votes recorded, complaints open."""
    area = _commune(scope, commune_code)
    within = Scope((area.code,)).clause
    by_class = dict(db.session.execute(
        sa.select(HouseholdYear.classification, sa.func.count()).where(
            HouseholdYear.year == year, within(HouseholdYear.area_code)).group_by(HouseholdYear.classification)).all())
    by_state = dict(db.session.execute(
        sa.select(Submission.review_state, sa.func.count())
        .join(HouseholdYear, HouseholdYear.submission_id == Submission.id)
        .where(HouseholdYear.year == year, within(HouseholdYear.area_code)).group_by(Submission.review_state)).all())
    voted = db.session.execute(sa.select(sa.func.count(sa.distinct(VillageMeeting.household_id))).where(
        VillageMeeting.year == year, within(VillageMeeting.area_code))).scalar_one()
    open_complaints = db.session.execute(sa.select(sa.func.count()).where(
        Complaint.year == year, Complaint.status == "open", within(Complaint.area_code))).scalar_one()
    return {"households": sum(by_class.values()), "by_class": by_class, "by_state": by_state, "voted": voted,
            "open_complaints": open_complaints}
