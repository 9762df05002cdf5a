"""Which areas a user may see. Every query returning user data goes through here.

Area codes are hierarchical (``01`` -> ``01-00004`` -> ``01-00004-v03``), so "inside the
user's areas" is a prefix test on the code. A user's scope is the set of areas assigned to
them; an admin with no assignment is a national admin and sees everything; anyone else with
no assignment sees nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from server.models import User


@dataclass(frozen=True)
class Scope:
    roots: tuple[str, ...] | None  # None: everything

    @property
    def is_national(self) -> bool:
        return self.roots is None

    def covers(self, area_code: str | None) -> bool:
        """Is the area (or anything inside it) within scope?"""
        if self.roots is None:
            return True
        if not area_code:
            return False
        return any(area_code == root or area_code.startswith(root + "-") for root in self.roots)

    def covers_all(self, area_codes: Iterable[str]) -> bool:
        return all(self.covers(code) for code in area_codes)

    def clause(self, column: sa.ColumnElement[str]) -> sa.ColumnElement[bool]:
        """A WHERE clause keeping rows whose area ``column`` lies within scope."""
        if self.roots is None:
            return sa.true()
        if not self.roots:
            return sa.false()
        return sa.or_(*(
            sa.or_(column == root, column.like(_escape_like(root) + "-%", escape="\\"))
            for root in self.roots
        ))

    def provinces(self) -> list[str]:
        """The provinces the scope lies in (empty for a national scope)."""
        return sorted({province_of(root) for root in self.roots or ()})

    def ancestors(self) -> set[str]:
        """Codes above the scope roots (visible for navigation, not their other children)."""
        out: set[str] = set()
        for root in self.roots or ():
            parts = root.split("-")
            out.update("-".join(parts[:i]) for i in range(1, len(parts)))
        return out


def province_of(code: str) -> str:
    """The province containing an area: codes are hierarchical (01 -> 01-00004 -> 01-00004-t01)."""
    return code.split("-")[0]


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def scope_of(user: User) -> Scope:
    codes = tuple(sorted(user.area_codes))
    if not codes and user.role == "admin":
        return Scope(None)
    return Scope(codes)
