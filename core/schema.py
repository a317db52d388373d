"""What the OpenAPI schema says beyond drf-spectacular's defaults."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension


class StrictSerializerExtension(OpenApiSerializerExtension):
    """A StrictSerializer refuses fields it does not know ("Unknown field."): its request
    schema says so, `additionalProperties: false`, so clients generated from the schema
    find the refusal there and not at run time."""

    target_class = "core.api.StrictSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: Any) -> Any:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        schema["additionalProperties"] = False
        return schema
