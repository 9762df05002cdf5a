"""Quality flags: what a supervisor should look at twice before approving a submission.

Two kinds, both decided here and nowhere else (the server and the model ``sync.state`` only
gather the inputs and store the result; the drift guard compares them):

* a submission's **own** flags follow from what it holds alone, and are computed by the sync
  core with every revision it stores (``assess``, carried on ``core.SubmissionWrite``):

  - ``short_interview``: finished less than ``min_interview_minutes`` after it started (only
    when the phone sent both times);
  - ``gps_missing``: the form asks for the household's location and the visit has none;
  - ``gps_inaccurate``: the location's accuracy (metres) is worse than ``max_gps_accuracy_m``;
  - ``roster_mismatch``: the number of people in the roster is not the declared member count;

* its **relative** flags compare it with the village's other households (``relative``): the
  *village* is the submission's area, and its *other households* are the counted visits
  (``household_years``: the year's latest visit of each household) of the same review year in
  that area, the submission's own household left out:

  - ``gps_far``: more than ``max_gps_distance_km`` from the median position (latitude and
    longitude medians) of the others' usable locations;
  - ``duplicate_id``: another household's counted visit of the same review year, in any area,
    names the same head ID number (an ID number is national: a head counted in two villages is
    the case to catch);
  - ``duplicate_name``: another household of the village has the same head name (folded: case,
    diacritics and tone placement ignored) and the same head birth year;
  - ``income_outlier``: income per person with a robust z-score (median and MAD of the others)
    beyond ``income_z`` in either direction;
  - ``class_changed``: the class differs from the household's counted class of the previous
    review year.

The medians need ``min_neighbours`` others with a value, else the flag is not raised: a village
of three households has no meaningful median.

Which answers the rules read is the form's business: ``sources`` maps the slots ``location``,
``head_id_number``, ``head_birth_year``, ``roster``, ``member_count`` and ``head_name`` to field
names (``forms.quality.sources``); a slot the form lacks switches its rule off. A source is a
top-level field name, or ``repeat[key=value]/field`` (the first instance of the repeat whose
``key`` is ``value``), e.g. the head's birth year in the roster.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = ["FLAGS", "OWN", "RELATIVE", "Facts", "Neighbour", "Thresholds", "Village", "assess", "combine",
           "fold", "relative", "robust_z"]

OWN = ("short_interview", "gps_missing", "gps_inaccurate", "roster_mismatch")
RELATIVE = ("gps_far", "duplicate_id", "duplicate_name", "income_outlier", "class_changed")
#: Every flag, in the order stored lists keep.
FLAGS = OWN + RELATIVE
_ORDER = {code: i for i, code in enumerate(FLAGS)}

#: Mean Earth radius (km), for the great-circle distance.
EARTH_RADIUS_KM = 6371.0088
#: The MAD of a normal distribution is 0.6745 standard deviations (Iglewicz and Hoaglin's
#: modified z-score); with a MAD of 0, the mean absolute deviation times 1.2533 stands in.
_MAD_SCALE, _MEAN_AD_SCALE = 0.6745, 1.253314


@dataclass(frozen=True)
class Thresholds:
    """The parameters of the rules (server configuration ``RASOAT_QUALITY_*``)."""

    min_interview_minutes: float = 10.0
    max_gps_accuracy_m: float = 50.0
    max_gps_distance_km: float = 5.0
    income_z: float = 3.5
    min_neighbours: int = 5

    def __post_init__(self) -> None:
        numbers = (self.min_interview_minutes, self.max_gps_accuracy_m, self.max_gps_distance_km, self.income_z)
        if any(not math.isfinite(n) or n < 0 for n in numbers) or self.min_neighbours < 1:
            raise ValueError("quality thresholds are finite and not negative; min_neighbours is at least 1")


@dataclass(frozen=True)
class Facts:
    """What one submission revision holds for the rules: its own flags, and what the village's
    other households are compared with. ``lat``/``lon`` only for a usable location (present and
    accurate enough); ``head_id_key`` a digest of the head's ID number (digits only), so the
    number is not copied into a searchable column (a digest of 12 digits hides nothing from
    whoever tries them all: it is not a secret, just not the number); ``head_key`` the folded
    head name and birth year."""

    own: tuple[str, ...] = ()
    lat: float | None = None
    lon: float | None = None
    head_id_key: str | None = None
    head_key: str | None = None


class Neighbour(NamedTuple):
    """A household's counted visit of a review year, as the relative rules see it.
    ``household_id`` may be None for a household that is none of those compared (a caller that
    knows which households it compares need not name the others)."""

    household_id: str | None
    lat: float | None
    lon: float | None
    head_key: str | None
    income_per_person: float | None


# --------------------------------------------------------------------------- reading answers

_SELECT = re.compile(r"^(?P<repeat>[A-Za-z_][A-Za-z0-9_]*)\[(?P<key>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>[^\]]*)\]"
                     r"/(?P<field>[A-Za-z_][A-Za-z0-9_]*)$")


def _answer(answers: Mapping, source: str | None) -> Any:
    if not source:
        return None
    selected = _SELECT.match(source)
    if selected is None:
        return answers.get(source)
    instances = answers.get(selected["repeat"])
    for instance in instances if isinstance(instances, list) else ():
        if isinstance(instance, Mapping) and str(instance.get(selected["key"])) == selected["value"]:
            return instance.get(selected["field"])
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def fold(value: str) -> str:
    """Lower case, no diacritics, đ -> d, spaces collapsed (``server.text.fold``'s rule: ``sync``
    cannot import the server): 'Nguyễn Thị Hoà' and 'nguyen thi hòa' fold alike."""
    decomposed = unicodedata.normalize("NFD", value.replace("Đ", "D").replace("đ", "d"))
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return " ".join(stripped.casefold().split())


def _head_id_key(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    digits = "".join(value.split())
    if not digits.isascii() or not digits.isdigit():
        return None
    return hashlib.sha256(f"head-id:{digits}".encode()).hexdigest()[:32]


def _head_key(name: Any, birth_year: Any) -> str | None:
    year = _number(birth_year)
    if not isinstance(name, str) or year is None or year != int(year):
        return None
    folded = fold(name)
    return f"{folded}|{int(year)}" if folded else None


# --------------------------------------------------------------------------- own flags


def assess(sources: Mapping[str, str], answers: Mapping, *, started_at: dt.datetime | None,
           finished_at: dt.datetime | None, thresholds: Thresholds) -> Facts:
    """A revision's own flags and facts, from its (computed) answers and the visit's times."""
    flags = set()
    if started_at is not None and finished_at is not None and thresholds.min_interview_minutes > 0:
        if finished_at - started_at < dt.timedelta(minutes=thresholds.min_interview_minutes):
            flags.add("short_interview")
    lat = lon = None
    if sources.get("location"):
        point = answers.get(sources["location"])
        plat = _number(point.get("lat")) if isinstance(point, Mapping) else None
        plon = _number(point.get("lon")) if isinstance(point, Mapping) else None
        if plat is None or plon is None:
            flags.add("gps_missing")
        else:
            accuracy = _number(point.get("accuracy"))
            if accuracy is not None and accuracy > thresholds.max_gps_accuracy_m:
                flags.add("gps_inaccurate")
            else:
                lat, lon = plat, plon
    if sources.get("roster") and sources.get("member_count"):
        declared = _number(answers.get(sources["member_count"]))
        roster = answers.get(sources["roster"])
        if declared is not None and len(roster if isinstance(roster, list) else ()) != declared:
            flags.add("roster_mismatch")
    return Facts(own=combine(flags, ()), lat=lat, lon=lon,
                 head_id_key=_head_id_key(_answer(answers, sources.get("head_id_number"))),
                 head_key=_head_key(_answer(answers, sources.get("head_name")),
                                    _answer(answers, sources.get("head_birth_year"))))


# --------------------------------------------------------------------------- relative flags


class _Ranked:
    """Sorted values with at most one of them left out, read in place (no copy per submission)."""

    __slots__ = ("skip", "values")

    def __init__(self, values: list[float], skip: int | None = None):
        self.values, self.skip = values, skip

    def __len__(self) -> int:
        return len(self.values) - (self.skip is not None)

    def __getitem__(self, j: int) -> float:
        return self.values[j + 1 if self.skip is not None and j >= self.skip else j]

    def without(self, value: float | None) -> _Ranked:
        if value is None:
            return self
        return _Ranked(self.values, bisect.bisect_left(self.values, value))

    def below(self, x: float) -> int:
        """How many values are smaller than ``x``."""
        lo, hi = 0, len(self)
        while lo < hi:
            mid = (lo + hi) // 2
            if self[mid] < x:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def all(self) -> list[float]:
        return self.values if self.skip is None else self.values[:self.skip] + self.values[self.skip + 1:]


def _median(ranked: _Ranked) -> float:
    middle = len(ranked) // 2
    return ranked[middle] if len(ranked) % 2 else (ranked[middle - 1] + ranked[middle]) / 2


def _deviation(ranked: _Ranked, centre: float, k: int) -> float:
    """The k-th smallest (from 0) of ``|x - centre|`` over ``ranked``, without sorting them: the
    deviations of the values below the centre, read leftwards, and of the others, read
    rightwards, are two sorted runs; a binary search finds how many each gives."""
    split = ranked.below(centre)
    left, right = split, len(ranked) - split

    def a(i: int) -> float:
        return centre - ranked[split - 1 - i]

    def b(j: int) -> float:
        return ranked[split + j] - centre

    lo, hi = max(0, k + 1 - right), min(k + 1, left)
    while lo < hi:
        i = (lo + hi) // 2
        if b(k - i) > a(i):  # the right run's last taken is above the left run's next
            lo = i + 1
        else:
            hi = i
    taken = [a(lo - 1)] if lo > 0 else []
    if k + 1 - lo > 0:
        taken.append(b(k - lo))
    return max(taken)


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def _robust_z(value: float, others: _Ranked) -> float | None:
    centre = _median(others)
    n = len(others)
    middle = n // 2
    mad = (_deviation(others, centre, middle) if n % 2
           else (_deviation(others, centre, middle - 1) + _deviation(others, centre, middle)) / 2)
    if mad > 0:
        return _MAD_SCALE * (value - centre) / mad
    mean_ad = math.fsum(abs(x - centre) for x in others.all()) / n
    return (value - centre) / (_MEAN_AD_SCALE * mean_ad) if mean_ad > 0 else None


def robust_z(value: float, others: Iterable[float]) -> float | None:
    """Modified z-score of ``value`` against ``others`` (median and MAD); None when the others
    do not spread at all."""
    return _robust_z(value, _Ranked(sorted(others)))


class Village:
    """The counted visits of one area and review year (one per household), sorted once: a push
    compares every submission it stored with the same village."""

    def __init__(self, neighbours: Iterable[Neighbour | Sequence]):
        """``neighbours``: ``Neighbour``s, or rows of the same five values in the same order."""
        self.households: dict[str, Neighbour] = {}
        lats: list[float] = []
        lons: list[float] = []
        incomes: list[float] = []
        heads: list[str] = []
        for household_id, lat, lon, head_key, income in neighbours:
            if household_id is not None:
                self.households[str(household_id)] = Neighbour(str(household_id), lat, lon, head_key, income)
            if lat is not None and lon is not None:
                lats.append(lat)
                lons.append(lon)
            if income is not None:
                incomes.append(income)
            if head_key is not None:
                heads.append(head_key)
        lats.sort()
        lons.sort()
        incomes.sort()
        self.lats, self.lons, self.incomes = _Ranked(lats), _Ranked(lons), _Ranked(incomes)
        self.heads = Counter(heads)


def relative(household_id: str, facts: Facts, *, income_per_person: float | None, classification: str | None,
             village: Village, id_holders: Iterable[str], previous_class: str | None,
             thresholds: Thresholds) -> tuple[str, ...]:
    """The relative flags of one submission of household ``household_id``.

    ``village``: the counted visits of the review year in the submission's area (its own
    household's among them or not: it is left out here); ``id_holders``: households whose counted
    visit of the review year, in any area, has the same ``head_id_key`` (the submission's own
    among them or not); ``previous_class``: the household's counted class of the previous review
    year."""
    own = village.households.get(household_id)
    placed = own is not None and own.lat is not None and own.lon is not None
    flags = set()
    if facts.lat is not None and facts.lon is not None:
        lats = village.lats.without(own.lat if placed else None)  # type: ignore[union-attr]
        lons = village.lons.without(own.lon if placed else None)  # type: ignore[union-attr]
        if len(lats) >= thresholds.min_neighbours:
            if distance_km(facts.lat, facts.lon, _median(lats), _median(lons)) > thresholds.max_gps_distance_km:
                flags.add("gps_far")
    if facts.head_id_key is not None and any(h != household_id for h in id_holders):
        flags.add("duplicate_id")
    if facts.head_key is not None:
        same = village.heads[facts.head_key] - (own is not None and own.head_key == facts.head_key)
        if same > 0:
            flags.add("duplicate_name")
    if income_per_person is not None:
        incomes = village.incomes.without(own.income_per_person if own is not None else None)
        if len(incomes) >= thresholds.min_neighbours:
            z = _robust_z(income_per_person, incomes)
            if z is not None and abs(z) > thresholds.income_z:
                flags.add("income_outlier")
    if previous_class and classification and previous_class != classification:
        flags.add("class_changed")
    return combine(flags, ())


def combine(own: Iterable[str], relative_flags: Iterable[str]) -> tuple[str, ...]:
    """The flags to store: both kinds, each once, in ``FLAGS`` order."""
    return tuple(sorted({*own, *relative_flags}, key=_ORDER.__getitem__))
