"""JSON request bodies as large as API_JSON_MAX_BYTES allows.

DRF's JSONParser reads `request.body`, which Django holds to DATA_UPLOAD_MAX_MEMORY_SIZE (1 MB, the
forms' limit): a list's 10,000 rows a request (API_ROWS_PER_REQUEST) failed with a server error.
This parser reads the stream itself, at most API_JSON_MAX_BYTES of it (a body longer than its
Content-Length, which ASGI does not cut, included), then parses it as DRF's would. The body's size
is checked before it is read too: by config.uploads (a valid key is needed past 1 MB) and by the
views (Content-Length against the same limit)."""

import io

from django.conf import settings
from rest_framework import exceptions, renderers, status
from rest_framework.parsers import BaseParser, JSONParser


def json_too_large_sentence(limit: int) -> str:
    return f"A JSON body is at most {limit:,} bytes; send fewer rows a request."


class JSONTooLarge(exceptions.APIException):
    """413, answered as a problem (api.problems) like every API error."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"

    def __init__(self, limit: int):
        super().__init__(json_too_large_sentence(limit))


class BoundedJSONParser(BaseParser):
    media_type = "application/json"
    renderer_class = renderers.JSONRenderer

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.API_JSON_MAX_BYTES
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise JSONTooLarge(limit)
        # Not a JSONParser subclass: DRF would hand one request.body.
        return JSONParser().parse(io.BytesIO(raw), media_type, parser_context)
