"""What every API view shares: the key's account, Idempotency-Key handling, size caps."""

from django.conf import settings
from rest_framework import generics
from rest_framework.exceptions import NotFound, ValidationError

from api.idempotency import Replay, idempotency_begin, idempotency_finish
from api.parsers import BoundedJSONParser, JSONTooLarge
from api.problems import NOT_FOUND, Problem
from campaigns.models import Campaign, ContactList
from flows.models import Flow


class AccountView(generics.GenericAPIView):
    """Scoped to the API key's account: another account's object is a 404, never a 403."""

    parser_classes = [BoundedJSONParser]
    # The serializer of the query parameters a GET filters by; any other parameter is a 400.
    filter_serializer = None
    # False where no work is done (a redirect, a 404): a key sent there stays free for the real path.
    takes_idempotency_key = True

    def initial(self, request, *args, **kwargs):
        self.idempotency_record = None
        super().initial(request, *args, **kwargs)  # authentication, permission, throttling
        if request.method == "GET":
            self.refuse_unknown_parameters(request)
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if request.content_type.startswith("application/json") and length > settings.API_JSON_MAX_BYTES:
            raise JSONTooLarge(settings.API_JSON_MAX_BYTES)
        if self.takes_idempotency_key:
            self.idempotency_record = idempotency_begin(request=request)

    def handle_exception(self, exc):
        if isinstance(exc, Replay):
            return exc.response
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if getattr(self, "idempotency_record", None) is not None:
            idempotency_finish(record=self.idempotency_record, response=response)
        return response

    def known_parameters(self) -> list[str]:
        known = list(self.filter_serializer().fields) if self.filter_serializer else []
        if self.pagination_class is not None and getattr(self, "list", None):
            known += [self.pagination_class.cursor_query_param, self.pagination_class.page_size_query_param]
        return known

    def refuse_unknown_parameters(self, request) -> None:
        known = self.known_parameters()
        unknown = sorted(set(request.query_params) - set(known))
        if unknown:
            which = ", ".join(known) if known else "none"
            raise ValidationError(
                {name: [f"{name!r} is not a parameter of this operation; it takes: {which}."] for name in unknown}
            )

    @property
    def account(self):
        return self.request.auth.account

    def flows(self):
        return Flow.objects.filter(account=self.account)

    def contact_lists(self):
        return ContactList.objects.filter(flow__account=self.account).select_related("flow", "open_list")

    def campaigns(self):
        return Campaign.objects.filter(flow__account=self.account).select_related("flow")

    def flow_by_id(self, flow_id: str, field: str = "flow") -> Flow:
        flow = self.flows().filter(flow_id=flow_id).first()
        if flow is None:
            raise Problem(
                f"There is no flow {flow_id!r} in this account.", status_code=422, code="invalid", field=field
            )
        return flow


class CsvDownload(AccountView):
    """A CSV answer: it never goes through a renderer, so any Accept header is fine."""

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)


def not_found():
    return NotFound(NOT_FOUND)
