"""Request bodies over their limit are refused before Django reads them, and cut off while it reads them.

Django itself counts only the form fields of a body (DATA_UPLOAD_MAX_MEMORY_SIZE): a file part of
any size is spooled to a temporary file before a view can look at it. So:

- `RequestSizeLimitMiddleware` compares the Content-Length with the limit of the request's page
  and answers 413 without reading a byte of the body;
- `UploadLimitHandler`, first of FILE_UPLOAD_HANDLERS, counts the file bytes as they are parsed
  and stops the upload at the limit, for a body that is longer than its Content-Length says
  (ASGI does not cut a body at its Content-Length, WSGI does) or a middleware that was bypassed.

Only a logged-in user may send more than the forms' limit, and only to the upload pages; that
limit is below FILE_UPLOAD_MAX_MEMORY_SIZE, so a stranger's body never reaches the disk. The API's
list endpoints take larger bodies too (JSON rows up to API_JSON_MAX_BYTES, a CSV up to
UPLOAD_MAX_BYTES), from a request whose API key is valid; the API's refusals are problem+json.
"""

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import JsonResponse
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat
from django.urls import Resolver404, resolve

from api.authentication import presented_key
from api.key_failures import api_key_checked
from api.parsers import json_too_large_sentence
from api.problems import CONTENT_TYPE as PROBLEM_CONTENT_TYPE
from api.problems import problem_body

# Boundaries, part headers and the small form fields that travel with the file.
MULTIPART_OVERHEAD = 64 * 1024
# URL name -> the setting that limits the file it takes.
UPLOAD_PAGES = {"list_upload": "UPLOAD_MAX_BYTES", "list_preview": "CALL_LIST_MAX_BYTES"}
# API endpoints that take large bodies: URL name -> (the setting limiting a JSON body, the one limiting
# a CSV sent as multipart, or None where none is taken).
API_BODY_PAGES = {
    "api_list_index": ("API_JSON_MAX_BYTES", "UPLOAD_MAX_BYTES"),
    "api_list_rows": ("API_JSON_MAX_BYTES", None),
    "api_dnc_uploads": ("API_JSON_MAX_BYTES", "UPLOAD_MAX_BYTES"),
    "api_campaign_contacts": ("API_JSON_MAX_BYTES", None),
}
REFUSED = "upload_refused"  # request attribute: the sentence of a refusal by the upload handler


def _url_name(request) -> str | None:
    try:
        return resolve(request.path_info).url_name
    except Resolver404:
        return None


def _is_api(request) -> bool:
    return request.path_info.startswith("/api/")


def _logged_in(request) -> bool:
    # Without AuthenticationMiddleware before us, nobody counts as logged in: the safe side.
    user = getattr(request, "user", None)
    return bool(user and user.is_authenticated)


def _api_key_valid(request) -> bool:
    """The request carries a usable API key (DRF checks it again, and answers for a bad one). A wrong key
    counts as a failure here too (api.key_failures), so large bodies are no way round the throttle."""
    raw = presented_key(request.headers.get("Authorization", ""))
    return raw is not None and api_key_checked(raw, request).api_key is not None


def _api_body_limit(request, json_setting: str, file_setting: str | None) -> tuple[int, str]:
    forms_limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if not _api_key_valid(request):
        return forms_limit, (
            f"The request is larger than {_size(forms_limit)}; a larger one needs a valid API key "
            "(Authorization: Api-Key <key>)."
        )
    if request.content_type == "multipart/form-data" and file_setting is not None:
        limit = getattr(settings, file_setting)
        return limit + MULTIPART_OVERHEAD, f"The file is larger than {_size(limit)}, the most the server accepts."
    if request.content_type == "application/json":
        limit = getattr(settings, json_setting)
        return limit, json_too_large_sentence(limit)
    return forms_limit, f"The request is larger than {_size(forms_limit)}, the most this endpoint accepts."


def body_limit(request) -> tuple[int, str]:
    """The largest body this request may carry, and the sentence that refuses a larger one."""
    forms_limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    url_name = _url_name(request)
    if url_name in API_BODY_PAGES:
        return _api_body_limit(request, *API_BODY_PAGES[url_name])
    name = UPLOAD_PAGES.get(url_name)
    if name is None:
        where = "endpoint" if _is_api(request) else "page"
        return forms_limit, f"The request is larger than {_size(forms_limit)}, the most this {where} accepts."
    if not _logged_in(request):
        return forms_limit, "Log in before sending a file: the server takes files only from a logged-in manager."
    file_limit = getattr(settings, name)
    return file_limit + MULTIPART_OVERHEAD, f"The file is larger than {_size(file_limit)}, the most the server accepts."


def _size(n: int) -> str:
    return filesizeformat(n).replace("\xa0", " ")


def refusal(request, sentence: str):
    """413 with one sentence: problem+json for the API, JSON for the upload script, a page for a browser."""
    if _is_api(request):
        body = problem_body(status_code=413, detail=sentence, code="too_large", instance=request.path)
        return JsonResponse(body, status=413, content_type=PROBLEM_CONTENT_TYPE)
    if request.headers.get("X-Requested-With") == "XMLHttpRequest" or "application/json" in request.headers.get(
        "Accept", ""
    ):
        return JsonResponse({"error": sentence}, status=413)
    return render(request, "413.html", {"sentence": sentence}, status=413)


class RequestSizeLimitMiddleware:
    """Refuse by Content-Length before anything reads the body; finish a refusal by the handler."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        # Most bodies are small: resolve the page and look at the session only for a large one.
        if declared > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            limit, sentence = body_limit(request)
            if declared > limit:
                return refusal(request, sentence)
        response = self.get_response(request)
        # CSRF may have answered first, from a body the handler cut short: the refusal says why.
        if getattr(request, REFUSED, None):
            return refusal(request, getattr(request, REFUSED))
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        # Parse a file upload here, after the CSRF check, so that a body cut off by the handler
        # never reaches the view as a form with its file missing.
        if request.method == "POST" and request.content_type == "multipart/form-data":
            request.FILES  # noqa: B018 - parses the body through the upload handlers
            if getattr(request, REFUSED, None):
                return refusal(request, getattr(request, REFUSED))
        return None


class UploadLimitHandler(FileUploadHandler):
    """Counts the file bytes of a multipart body and stops the parser past the request's limit."""

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.limit, self.sentence = body_limit(self.request)
        self.received = 0

    def new_file(self, *args, **kwargs):
        pass  # the later handlers (memory, then temporary file) keep the bytes

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            setattr(self.request, REFUSED, self.sentence)
            # connection_reset: the rest is not read; the parser closes (and so deletes) any
            # temporary file a later handler opened.
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size):
        return None
