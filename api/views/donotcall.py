"""Do-not-call over the API: the account's own list (add, remove, bulk-load a file) and a look-up
across every list that binds the account. The same functions, limits and sentences as the pages
and `import_dnc` (campaigns.donotcall)."""

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import get_object_or_404
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from api.problems import unprocessable
from api.views.base import AccountView
from campaigns.donotcall.forms import MAX_TYPED_NUMBERS
from campaigns.donotcall.lists import (
    NumbersRefused,
    dnc_entries_add,
    dnc_entries_find,
    dnc_entries_remove,
    dnc_lists_binding,
    dnc_own_list,
)
from campaigns.donotcall.loading import dnc_upload_create
from campaigns.importing import FileRefused
from campaigns.models import DoNotCallEntry, DoNotCallList, DoNotCallUpload
from campaigns.tasks import load_dnc_upload_task

NUMBER_HELP = "With the country code, e.g. 919812345678 (spaces, dashes and a leading + are fine)."


class NumbersChangeSerializer(serializers.Serializer):
    numbers = serializers.ListField(
        child=serializers.CharField(max_length=32, trim_whitespace=False),
        min_length=1,
        max_length=MAX_TYPED_NUMBERS,
        help_text=f"{NUMBER_HELP} At most {MAX_TYPED_NUMBERS:,} a request; upload a file for more.",
    )


class NumbersAddSerializer(NumbersChangeSerializer):
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    expires_on = serializers.DateField(
        required=False, allow_null=True, default=None, help_text="Callable again from this day; empty: until removed."
    )


class LookupQuerySerializer(serializers.Serializer):
    number = serializers.CharField(max_length=32, trim_whitespace=False, help_text=NUMBER_HELP)


class DncListSerializer(serializers.ModelSerializer):
    scope = serializers.SerializerMethodField()

    class Meta:
        model = DoNotCallList
        fields = ["id", "name", "scope"]

    def get_scope(self, dnc_list) -> str:
        """`own`: the account's list, changed here; `global`: a registry an admin attached to the account."""
        return "global" if dnc_list.is_global else "own"


class DncEntrySerializer(serializers.ModelSerializer):
    list = DncListSerializer(source="dnc_list")

    class Meta:
        model = DoNotCallEntry
        fields = ["list", "source", "reason", "expires_on", "created_at"]


class LookupSerializer(serializers.Serializer):
    number = serializers.CharField()
    listed = serializers.BooleanField()
    entries = DncEntrySerializer(many=True)


class DncSummarySerializer(serializers.Serializer):
    own = DncListSerializer(allow_null=True)
    own_count = serializers.IntegerField()
    lists = DncListSerializer(many=True, help_text="Every list that binds the account, its own first.")


class ChangeResultSerializer(serializers.Serializer):
    added = serializers.IntegerField(required=False)
    already_listed = serializers.IntegerField(required=False)
    removed = serializers.IntegerField(required=False)


class DncUploadSerializer(serializers.ModelSerializer):
    class Meta:
        model = DoNotCallUpload
        fields = [
            "id",
            "action",
            "status",
            "error",
            "original_filename",
            "reason",
            "expires_on",
            "rows_done",
            "imported_count",
            "rejected_count",
            "added_count",
            "removed_count",
            "created_at",
            "started_at",
            "finished_at",
        ]


class DncUploadRequestSerializer(serializers.Serializer):
    """multipart/form-data: a .csv, .txt or .zip of numbers, as on the do-not-call page."""

    file = serializers.FileField(
        allow_empty_file=True, help_text="One number a line, or a column named number or tel1."
    )
    action = serializers.ChoiceField(choices=DoNotCallUpload.Action.choices, default=DoNotCallUpload.Action.ADD)
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    # Not nullable: a form field is a string; leave it out to keep the numbers listed until removed.
    expires_on = serializers.DateField(required=False, default=None)


class DncSummary(AccountView):
    serializer_class = DncSummarySerializer

    def get(self, request):
        lists = list(dnc_lists_binding(account_id=self.account.pk).order_by("account", "name"))
        own = next((dnc_list for dnc_list in lists if not dnc_list.is_global), None)
        lists.sort(key=lambda dnc_list: dnc_list.is_global)
        count = DoNotCallEntry.objects.filter(dnc_list=own).count() if own else 0
        return Response(DncSummarySerializer({"own": own, "own_count": count, "lists": lists}).data)


class DncLookup(AccountView):
    serializer_class = LookupSerializer
    filter_serializer = LookupQuerySerializer

    @extend_schema(parameters=[LookupQuerySerializer])
    def get(self, request):
        query = LookupQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        number = query.validated_data["number"]
        entries = dnc_entries_find(lists=dnc_lists_binding(account_id=self.account.pk), number=number)
        return Response(LookupSerializer({"number": number, "listed": bool(entries), "entries": entries}).data)


def _numbers_refused(refused: NumbersRefused):
    return unprocessable(str(refused), field="numbers")


class DncAdd(AccountView):
    serializer_class = ChangeResultSerializer

    @extend_schema(request=NumbersAddSerializer, responses={200: ChangeResultSerializer})
    def post(self, request):
        data = NumbersAddSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        numbers = data.validated_data["numbers"]
        try:
            added = dnc_entries_add(
                dnc_list=dnc_own_list(account=self.account),
                numbers=numbers,
                reason=data.validated_data["reason"],
                expires_on=data.validated_data["expires_on"],
                source=DoNotCallEntry.Source.API,
            )
        except NumbersRefused as refused:
            raise _numbers_refused(refused) from refused
        return Response({"added": added, "already_listed": len(set(numbers)) - added})


class DncRemove(AccountView):
    serializer_class = ChangeResultSerializer

    @extend_schema(request=NumbersChangeSerializer, responses={200: ChangeResultSerializer})
    def post(self, request):
        data = NumbersChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            removed = dnc_entries_remove(
                dnc_list=dnc_own_list(account=self.account), numbers=data.validated_data["numbers"]
            )
        except NumbersRefused as refused:
            raise _numbers_refused(refused) from refused
        return Response({"removed": removed})


class DncUploads(AccountView):
    serializer_class = DncUploadSerializer
    parser_classes = [MultiPartParser]

    @extend_schema(request={"multipart/form-data": DncUploadRequestSerializer}, responses={202: DncUploadSerializer})
    def post(self, request):
        """Bulk-load a file into the account's own list (add, replace or remove its numbers); a worker
        loads it, as from the page. Follow the upload's status at /do-not-call/uploads/{id}/."""
        data = DncUploadRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        try:
            created = dnc_upload_create(
                dnc_list=dnc_own_list(account=self.account),
                fileobj=upload,
                filename=upload.name,
                action=data.validated_data["action"],
                reason=data.validated_data["reason"],
                expires_on=data.validated_data["expires_on"],
                source=DoNotCallEntry.Source.API,
            )
        except FileRefused as refusal:
            raise unprocessable(refusal.message, field="file") from refusal
        transaction.on_commit(lambda: load_dnc_upload_task.delay(created.pk))
        response = Response(DncUploadSerializer(created).data, status=status.HTTP_202_ACCEPTED)
        response["Location"] = f"/api/v1/do-not-call/uploads/{created.pk}/"
        return response


class DncUploadDetail(AccountView):
    serializer_class = DncUploadSerializer

    def get(self, request, pk):
        uploads = DoNotCallUpload.objects.filter(dnc_list__account=self.account)
        return Response(DncUploadSerializer(get_object_or_404(uploads, pk=pk)).data)
