"""sync.quality: each rule at its thresholds, the robust z-score, and the model (sync.state)
computing own flags at every revision and village flags after the whole batch."""

from __future__ import annotations

import datetime as dt
import math
import uuid

import pytest
from hypothesis import given, strategies as st

from sync import core, quality
from sync.quality import Facts, Neighbour, Thresholds, Village, assess, relative, robust_z
from sync.state import SyncState, World, apply_push, correct

SOURCES = {"location": "loc", "head_id_number": "hid", "head_birth_year": "members[relation=head]/birth_year",
           "roster": "members", "member_count": "n", "head_name": "head"}
T0 = dt.datetime(2026, 10, 2, 1, 0, tzinfo=dt.UTC)
LIMITS = Thresholds()


def answers(**overrides):
    base = {"loc": {"lat": 21.0285, "lon": 105.8542, "accuracy": 8.0}, "hid": "001086012345", "head": "Nguyễn Văn An",
            "n": 2, "members": [{"relation": "head", "birth_year": 1986}, {"relation": "spouse", "birth_year": 1988}]}
    return base | overrides


def own(minutes=30.0, sources=SOURCES, **overrides) -> tuple[str, ...]:
    return assess(sources, answers(**overrides), started_at=T0, finished_at=T0 + dt.timedelta(minutes=minutes),
                  thresholds=LIMITS).own


def test_a_clean_visit_has_no_own_flag_and_each_rule_raises_its_own():
    assert own() == ()
    assert own(minutes=9.99) == ("short_interview",)
    assert own(minutes=10) == ()  # "shorter than": ten minutes is not
    assert own(loc=None) == ("gps_missing",)
    assert own(loc={"lat": 21.0}) == ("gps_missing",)
    assert own(loc={"lat": 21.0, "lon": 105.0, "accuracy": 50.0}) == ()
    assert own(loc={"lat": 21.0, "lon": 105.0, "accuracy": 50.5}) == ("gps_inaccurate",)
    assert own(loc={"lat": 21.0, "lon": 105.0}) == ()  # no accuracy given: taken as it is
    assert own(n=3) == ("roster_mismatch",)
    assert own(n=0, members=[]) == ()
    assert own(minutes=2, n=1, loc=None) == ("short_interview", "gps_missing", "roster_mismatch")


def test_a_rule_whose_answers_the_form_lacks_is_off():
    assert own(sources={}, loc=None, n=7, minutes=60) == ()
    assert own(sources={"member_count": "n"}, n=7) == ()  # a count without a roster compares nothing
    assert assess({}, {}, started_at=None, finished_at=T0, thresholds=LIMITS) == Facts()


def test_facts_fold_the_head_and_keep_only_usable_locations():
    a = assess(SOURCES, answers(), started_at=None, finished_at=None, thresholds=LIMITS)
    # NFD, upper case, the other tone placement (Hoà / Hòa), an extra space: the same head
    b = assess(SOURCES, answers(head="NGUYỄN  VĂN AN"), started_at=None, finished_at=None, thresholds=LIMITS)
    assert a.head_key == b.head_key == "nguyen van an|1986"
    hoa1 = assess(SOURCES, answers(head="Lê Thị Hoà"), started_at=None, finished_at=None, thresholds=LIMITS)
    hoa2 = assess(SOURCES, answers(head="Le Thi Ho\u0300a"), started_at=None, finished_at=None, thresholds=LIMITS)
    assert hoa1.head_key == hoa2.head_key
    assert a.head_id_key == assess(SOURCES, answers(hid="0010 8601 2345"), started_at=None, finished_at=None,
                                   thresholds=LIMITS).head_id_key
    assert len(a.head_id_key) == 32 and "001086012345" not in a.head_id_key
    assert assess(SOURCES, answers(hid="n/a"), started_at=None, finished_at=None, thresholds=LIMITS).head_id_key is None
    no_head = answers(members=[{"relation": "spouse", "birth_year": 1988}])
    assert assess(SOURCES, no_head, started_at=None, finished_at=None, thresholds=LIMITS).head_key is None
    assert (a.lat, a.lon) == (21.0285, 105.8542)
    blurred = assess(SOURCES, answers(loc={"lat": 21.0, "lon": 105.0, "accuracy": 500.0}), started_at=None,
                     finished_at=None, thresholds=LIMITS)
    assert (blurred.lat, blurred.lon) == (None, None)


def neighbours(n=5, **overrides) -> list[Neighbour]:
    return [Neighbour(**{"household_id": f"h{i}", "lat": 21.0285 + i / 1000, "lon": 105.8542,
                         "head_key": f"head {i}|1970", "income_per_person": 1_000_000 + 50_000 * i} | overrides)
            for i in range(n)]


def flags(facts=Facts(lat=21.0285, lon=105.8542), household="me", income=1_100_000, classification="poor",
          village=None, holders=(), previous=None, limits=LIMITS) -> tuple[str, ...]:
    return relative(household, facts, income_per_person=income, classification=classification,
                    village=Village(neighbours() if village is None else village), id_holders=holders,
                    previous_class=previous, thresholds=limits)


def test_the_village_rules():
    assert flags() == ()
    assert flags(Facts(lat=21.0285 + 0.046, lon=105.8542)) == ()  # 5.1 km from the point, 4.9 km from the median
    assert flags(Facts(lat=21.0285 + 0.05, lon=105.8542)) == ("gps_far",)
    assert flags(Facts(lat=21.2, lon=105.8542), village=neighbours(4)) == ()  # too few to have a median
    assert flags(Facts(lat=21.2, lon=105.8542), village=neighbours(5, lat=None)) == ()
    assert flags(Facts(head_id_key="k"), holders=["me"]) == ()  # its own household
    assert flags(Facts(head_id_key="k"), holders=["me", "h9"]) == ("duplicate_id",)
    assert flags(Facts(head_id_key=None), holders=["h9"]) == ()
    assert flags(Facts(head_key="head 3|1970")) == ("duplicate_name",)
    assert flags(Facts(head_key="head 3|1971")) == ()
    assert flags(Facts(head_key="head 3|1970"), village=[*neighbours(), Neighbour("me", None, None, "x|1", None)]) \
        == ("duplicate_name",)
    assert flags(Facts(head_key="mine|1970"), village=[Neighbour("me", None, None, "mine|1970", None)]) == ()
    assert flags(income=9_000_000) == ("income_outlier",)
    assert flags(income=0) == ("income_outlier",)  # both ways
    assert flags(income=9_000_000, village=neighbours(4)) == ()
    assert flags(previous="near_poor") == ("class_changed",)
    assert flags(previous="poor") == ()
    assert flags(previous="poor", classification=None) == ()


def test_the_robust_z_score():
    others = [1.0, 2.0, 3.0, 4.0, 100.0]  # median 3, deviations 2 1 0 1 97: MAD 1
    assert robust_z(5.0, others) == pytest.approx(0.6745 * 2)
    assert robust_z(3.0, [3.0, 3.0, 3.0, 4.0, 9.0]) == 0.0  # MAD 0: the mean deviation, 1.2
    assert robust_z(4.2, [3.0, 3.0, 3.0, 4.0, 9.0]) == pytest.approx(1.2 / (1.253314 * 1.4))
    assert robust_z(7.0, [3.0] * 6) is None


@given(st.lists(st.floats(0, 1e9), min_size=1, max_size=30), st.floats(0, 1e9))
def test_the_z_score_does_not_depend_on_the_order_of_the_others(others, value):
    assert robust_z(value, others) == robust_z(value, list(reversed(others)))


def test_thresholds_are_checked():
    with pytest.raises(ValueError):
        Thresholds(min_neighbours=0)
    with pytest.raises(ValueError):
        Thresholds(income_z=float("nan"))
    assert quality.combine(["class_changed", "gps_missing"], ["gps_missing", "duplicate_id"]) == \
        ("gps_missing", "duplicate_id", "class_changed")


# --------------------------------------------------------------------------- the model


class QualityEvaluator:
    """A form without rules whose answers the quality rules read."""

    area_type_field = None
    review_year = None
    withheld: frozenset[str] = frozenset()
    keyed_repeats: dict = {}
    quality_fields = SOURCES
    provenance = {"form_id": "q", "form_version": "1", "form_sha256": None, "parameter_set": None}

    def evaluate(self, answers, on):
        outputs = {"classification": answers.get("cls"), "income_per_person": answers.get("inc")}
        return core.Evaluation(dict(answers), {}, outputs, [], [])

    def answered(self, answers):
        return dict(answers)


def uid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"quality/{name}"))


def item(sid, household, started="2026-10-02T08:00:00+07:00", hrev=None, rev=1, **overrides):
    return {"id": uid(sid), "rev": rev, "form_id": "q", "form_version": "1", "area": "01-00004-a",
            "household_id": uid(household), "household_rev": hrev, "started_at": started,
            "finished_at": "2026-10-02T09:00:00+07:00", "attachments": [],
            "answers": answers(**{"hid": f"{uuid.UUID(uid(household)).int % 10**12:012d}",
                                  "head": f"Chủ hộ {household}", "inc": 1_000_000, **overrides})}


def test_the_model_flags_every_revision_and_the_village_after_the_batch():
    model = SyncState(world=World(forms={("q", "1"): core.FormState("published", QualityEvaluator())}))
    village = [item(f"s{i}", f"h{i}", inc=1_000_000 + 50_000 * i) for i in range(5)]
    # an outlier in the same batch as its village: compared with all of it
    odd = item("odd", "odd", inc=30_000_000, hid=village[0]["answers"]["hid"], started="2026-10-02T08:58:00+07:00")
    replies = apply_push(model, [odd, *village], now=dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    assert {r["status"] for r in replies} == {"accepted"}
    assert model.submissions[uid("odd")].flags == ("short_interview", "duplicate_id", "income_outlier")
    assert model.submissions[uid("s0")].flags == ("duplicate_id",)  # same batch: both see each other
    assert model.submissions[uid("s1")].flags == ()
    # an edit recomputes both kinds
    [edit] = apply_push(model, [dict(odd, rev=2, started_at="2026-10-02T08:00:00+07:00",
                                     answers=dict(odd["answers"], inc=1_100_000, loc=None))],
                        now=dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    assert edit["status"] == "accepted"
    assert model.submissions[uid("odd")].flags == ("gps_missing", "duplicate_id")
    # a correction too, keeping the phone's visit times
    correct(model, uid("odd"), {"hid": "999999999999", "loc": {"lat": 21.0, "lon": 105.0, "accuracy": 90.0}},
            "Sửa số CCCD", now=dt.datetime(2026, 11, 2, tzinfo=dt.UTC))
    assert model.submissions[uid("odd")].flags == ("gps_inaccurate",)
    assert model.submissions[uid("odd")].started_at == dt.datetime(2026, 10, 2, 1, 0, tzinfo=dt.UTC)


# --------------------------------------------------------------------------- the sorted village


def _naive_median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def naive_relative(household, facts, income, village, limits):
    """The rules as written in docs/quality.md, on plain lists (the oracle for the sorted village)."""
    others = [n for n in village if n.household_id != household]
    found = set()
    placed = [n for n in others if n.lat is not None and n.lon is not None]
    if facts.lat is not None and len(placed) >= limits.min_neighbours:
        centre = (_naive_median([n.lat for n in placed]), _naive_median([n.lon for n in placed]))
        if quality.distance_km(facts.lat, facts.lon, *centre) > limits.max_gps_distance_km:
            found.add("gps_far")
    if facts.head_key is not None and any(n.head_key == facts.head_key for n in others):
        found.add("duplicate_name")
    incomes = [n.income_per_person for n in others if n.income_per_person is not None]
    if income is not None and len(incomes) >= limits.min_neighbours:
        centre = _naive_median(incomes)
        deviations = sorted(abs(x - centre) for x in incomes)
        mad = _naive_median(deviations)
        if mad > 0:
            z = 0.6745 * (income - centre) / mad
        else:
            mean_ad = math.fsum(deviations) / len(deviations)
            z = (income - centre) / (1.253314 * mean_ad) if mean_ad > 0 else None
        if z is not None and abs(z) > limits.income_z:
            found.add("income_outlier")
    return quality.combine(found, ())


few = st.sampled_from([0.0, 1.0, 2.0, 2.0, 3.0, 50.0])  # ties and outliers
coordinate = st.one_of(st.none(), st.floats(20.9, 21.2), few.map(lambda x: 21.0 + x / 100))
money = st.one_of(st.none(), st.floats(0, 1e8), few.map(lambda x: 1e6 + x * 1e5))


@st.composite
def a_village(draw):
    size = draw(st.integers(0, 25))
    village = []
    for i in range(size):
        lat, lon = draw(coordinate), draw(coordinate)
        if lat is None or lon is None:
            lat = lon = None
        village.append(Neighbour(f"h{i}", lat, lon, draw(st.sampled_from([None, "a|1", "b|2"])), draw(money)))
    return village


@given(a_village(), st.sampled_from(["h0", "h1", "h3", "elsewhere"]), coordinate, coordinate,
       st.sampled_from([None, "a|1", "c|3"]), money, st.integers(1, 6))
def test_the_sorted_village_decides_as_the_rules_read(village, household, lat, lon, head, income, neighbours_min):
    facts = Facts(lat=lat, lon=lon, head_key=head) if lat is not None and lon is not None else Facts(head_key=head)
    limits = Thresholds(min_neighbours=neighbours_min, max_gps_distance_km=2.0, income_z=2.0)
    assert relative(household, facts, income_per_person=income, classification=None, village=Village(village),
                    id_holders=(), previous_class=None, thresholds=limits) == \
        naive_relative(household, facts, income, village, limits)


@given(st.lists(st.one_of(st.floats(-1e9, 1e9), few), min_size=1, max_size=40), st.floats(-1e9, 1e9))
def test_the_median_deviation_is_the_sorted_ones(others, value):
    centre = _naive_median(others)
    deviations = sorted(abs(x - centre) for x in others)
    mad = _naive_median(deviations)
    mean_ad = math.fsum(deviations) / len(deviations)
    expected = (0.6745 * (value - centre) / mad if mad > 0 else
                None if mean_ad == 0 else (value - centre) / (1.253314 * mean_ad))
    assert robust_z(value, others) == expected
