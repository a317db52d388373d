"""The request body parser of every API view (settings.REST_FRAMEWORK).

Its own module: DRF imports it while its views module is still loading, so it must not
import DRF's views (core.api does).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import exceptions, parsers


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, which lets Python's RecursionError on a body nested thousands
    deep through as a 500: here it is the 400 of any other unreadable body."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(
                "JSON parse error - the body is nested too deeply."
            ) from None
