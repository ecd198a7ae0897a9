"""Errors of the price sources: one line each, never carrying an API key."""

from __future__ import annotations


class DataError(ValueError):
    """Input the pipeline cannot read; the message is one line naming where."""


class SourceError(DataError):
    """A live source refused or failed: bad key, exhausted quota, unknown symbol, unusable response."""
