"""Answers to OPTIONS requests: what an endpoint is, renders and parses — not DRF's probing of the
serializer and the object for each write method, which runs view code outside its normal path
(`get_object()` on list routes, serializers without their context) and crashed on several endpoints.
The OpenAPI schema (/api/schema/) is the documentation of fields and methods."""

from typing import TYPE_CHECKING, Any

from rest_framework.metadata import SimpleMetadata
from rest_framework.request import Request

if TYPE_CHECKING:  # DRF imports this module while its views module is loading
    from rest_framework.views import APIView


class EndpointMetadata(SimpleMetadata):
    def determine_metadata(self, request: Request, view: "APIView") -> dict[str, Any]:
        return {
            "name": view.get_view_name(),
            "description": view.get_view_description(),
            "renders": [renderer.media_type for renderer in view.renderer_classes],
            "parses": [parser.media_type for parser in view.parser_classes],
        }
