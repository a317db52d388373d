"""The request body parser of every API view (settings.REST_FRAMEWORK).

Its own module: DRF imports it while its views module is still loading, so it must not
import DRF's views (core.api does).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import exceptions, parsers


def unencodable_at(value: Any, path: str = "") -> str | None:
    """The dotted path of the first string in `value` that is not valid Unicode text (a
    lone UTF-16 surrogate, such as JSON's "\\udfff"), or None. Python's JSON decoder
    accepts those; PostgreSQL and Redis refuse them, so they must be refused on input."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or "."
        return None
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        at = unencodable_at(key, path) if isinstance(key, str) else None
        if at is None:
            at = unencodable_at(item, f"{path}.{key}" if path else str(key))
        if at is not None:
            return at
    return None


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, which lets Python's RecursionError on a body nested thousands
    deep through as a 500, and text that the database cannot store (a lone surrogate)
    reach the view: here both are the 400 of any other unreadable body."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(
                "JSON parse error - the body is nested too deeply."
            ) from None
        at = unencodable_at(data)
        if at is not None:
            raise exceptions.ParseError(
                f"JSON parse error - {at} is not valid Unicode text (a lone surrogate)."
            )
        return data
