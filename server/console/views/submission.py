"""One submission: laid out like the form, with its review, corrections and comments."""

from __future__ import annotations

from server.console import blp  # noqa: F401
