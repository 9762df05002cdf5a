"""The two exceptions the expression language may raise."""

from __future__ import annotations


class ExpressionError(ValueError):
    """Base class of both expression errors (catch this to catch either)."""


class ExpressionSyntaxError(ExpressionError):
    """The expression cannot be compiled: bad syntax, unknown function, wrong number of
    arguments, a literal regex that is refused, or a limit (length, depth, tokens) exceeded.

    ``position`` is the 0-based character offset in the source where the problem was found.
    """

    def __init__(self, message: str, position: int = 0, source: str | None = None) -> None:
        super().__init__(message, position)
        self.message = message
        self.position = position
        self.source = source

    def __str__(self) -> str:
        text = f"{self.message} (at position {self.position})"
        if self.source is not None and len(self.source) <= 200:
            text += f"\n  {self.source}\n  {' ' * self.position}^"
        return text


class ExpressionEvaluationError(ExpressionError):
    """Evaluation could not produce a value: a refused or invalid regex built at run time,
    ``today()`` without an injected date, an unknown parameter, a bare name outside a choice
    filter, ``position(..)`` outside a repeat, an unknown or ambiguous field in a declared
    form, or a value of an unsupported type supplied by the caller."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message
