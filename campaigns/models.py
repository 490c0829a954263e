"""Call lists as they arrived, their contacts and rejected rows, the do-not-call list, and campaigns."""

import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone

from flows.models import Account, Flow
from phonon.limits import MAX_CALLS_PER_REQUEST


class ContactList(models.Model):
    """One call list as it arrived (browser, command, mail, SFTP) and what its import made of it."""

    class Source(models.TextChoices):
        UPLOAD = "upload", "Browser upload"
        COMMAND = "command", "Command line"
        MAIL = "mail", "Mail"
        SFTP = "sftp", "SFTP"
        DROP = "drop", "Drop folder"
        API = "api", "API"
        # Made by the pages, not uploaded: kept out of the main tables and pickers.
        TEST_CALL = "test_call", "Test call"
        RETRY = "retry", "Retry of a campaign"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to import"
        IMPORTING = "importing", "Importing"
        IMPORTED = "imported", "Imported"
        REFUSED = "refused", "Refused"
        FAILED = "failed", "Failed"

    flow = models.ForeignKey(Flow, on_delete=models.PROTECT, related_name="contact_lists")
    name = models.CharField(max_length=200)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.UPLOAD)
    original_filename = models.CharField(max_length=255, blank=True)
    stored_file = models.CharField(max_length=500, blank=True, help_text="Path under MEDIA_ROOT; never served.")
    encoding = models.CharField(max_length=16, blank=True, help_text="Empty: detect UTF-8/UTF-16 by BOM.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True, help_text="Why the file was refused or the import failed.")
    common_start_at = models.DateTimeField(null=True, blank=True, help_text="From upload_ddMMyyyyHHmmss in the name.")
    rows_done = models.PositiveIntegerField(default=0)
    imported_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    header = models.JSONField(default=list, blank=True, help_text="The file's header cells as written (first CSV).")
    column_map = models.JSONField(
        default=dict, blank=True,
        help_text="The manager's mapping of header cells to tel1..tel10, starttime or flow keys, from the preview.",
    )
    archived_at = models.DateTimeField(
        null=True, blank=True, help_text="Hidden from attention and pickers; nothing is deleted."
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.name

    @property
    def account(self) -> Account:
        return self.flow.account

    @property
    def rows_per_second(self) -> float | None:
        if not self.started_at:
            return None
        end = self.finished_at or datetime.datetime.now(datetime.UTC)
        seconds = (end - self.started_at).total_seconds()
        return self.rows_done / seconds if seconds > 0 else None


class BulkJSONField(models.JSONField):
    """JSON that the importer writes by the million, built valid by its own code (json's encoder):
    no CHECK (JSON_VALID(...)) on SQLite, which parsed every value again as it went in (half a
    second of a 1,000,000-row import). PostgreSQL's jsonb has no such check; reads are unchanged."""

    def db_check(self, connection):
        return None


class EqualityIndex(models.Index):
    """An index for lookups by equality only: a hash index on PostgreSQL, a B-tree elsewhere (SQLite
    has no other). Numbers arrive in no order, so each insert into a B-tree lands on a random leaf
    page: on PostgreSQL the contacts' number B-tree cost the server 3.5-4.5 s of a 1,000,000-row
    import, its hash index 1.1-1.6 s, whatever the collation."""

    def create_sql(self, model, schema_editor, using="", **kwargs):
        if schema_editor.connection.vendor == "postgresql":
            using = " USING hash"
        return super().create_sql(model, schema_editor, using=using, **kwargs)


class Contact(models.Model):
    """One accepted row of a call list: numbers normalised to the provider's form."""

    # An import writes contacts by the million. No foreign-key constraint in the database (on
    # PostgreSQL it was a trigger and a row lock per contact): the importer writes only the id of the
    # list it holds, and deleting a list goes through the ORM, which cascades as on_delete says.
    contact_list = models.ForeignKey(
        ContactList, on_delete=models.CASCADE, related_name="contacts", db_constraint=False
    )
    line = models.PositiveIntegerField(help_text="Line in the file (the header is line 1).")
    # Indexed in Meta for equality alone: numbers are only ever looked up whole (the per-number cap
    # across lists, the recently-called check); the search by a number's end reads no index anyway.
    primary_number = models.CharField(max_length=20, help_text="tel1, country code and digits.")
    numbers = BulkJSONField(default=list, help_text="tel1..tel10 in order, normalised.")
    variables = BulkJSONField(default=dict, help_text="Flow variables by name, without $flow.key.")
    start_at = models.DateTimeField(null=True, blank=True)
    external_id = models.CharField(max_length=100, blank=True, help_text="client-identifier given in the file.")

    class Meta:
        ordering = ["contact_list", "line"]
        indexes = [EqualityIndex(fields=["primary_number"], name="contact_primary_number_idx")]

    def __str__(self):
        return self.primary_number


class RejectedRow(models.Model):
    """A row the import could not take, kept for the report: line, column, value, reason."""

    # No foreign-key constraint in the database, as for Contact: an import writes up to a million of
    # these, and the deferred check of each one held the import's commits (1.2 s for 1,000,000 rows).
    contact_list = models.ForeignKey(
        ContactList, on_delete=models.CASCADE, related_name="rejected_rows", db_constraint=False
    )
    line = models.PositiveIntegerField()
    column = models.CharField(max_length=100, blank=True)
    value = models.TextField(blank=True)
    reason = models.TextField()
    raw = BulkJSONField(null=True, blank=True, help_text="The row's cells as written, to fix and upload again.")

    class Meta:
        ordering = ["contact_list", "line"]


class DoNotCallList(models.Model):
    """A do-not-call list: an account's own opt-outs, or a global list (a national registry export)
    that admins attach to accounts. Planning and the first send skip every number on an account's lists."""

    name = models.CharField(max_length=200)
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.CASCADE, related_name="own_do_not_call_lists",
        help_text="Set for an account's own list; empty for a global list attached to accounts below.",
    )
    attached_accounts = models.ManyToManyField(
        Account, blank=True, related_name="attached_do_not_call_lists",
        help_text="A global list blocks the numbers it holds for these accounts only.",
    )
    description = models.TextField(
        blank=True, help_text="Where the numbers come from, e.g. the registry's export date."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "do-not-call list"
        ordering = ["name"]
        permissions = [("manage_dnc", "Can add and remove numbers of their own accounts' do-not-call lists")]
        constraints = [
            models.UniqueConstraint(
                fields=["account"], condition=models.Q(account__isnull=False), name="dnc_one_own_list_per_account"
            ),
            # `import_dnc --list NAME` finds a global list by its name.
            models.UniqueConstraint(
                fields=["name"], condition=models.Q(account__isnull=True), name="dnc_global_list_name_unique"
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def is_global(self) -> bool:
        return self.account_id is None


class DoNotCallEntry(models.Model):
    """One number on one list. The number is stored as the integer of its digits (country code first)
    and the primary key is (list, number): one compact index serves loading and every lookup."""

    class Source(models.TextChoices):
        UPLOAD = "upload", "File upload"
        MANAGER = "manager", "Added by hand"
        API = "api", "API"

    pk = models.CompositePrimaryKey("dnc_list_id", "number")
    # No foreign-key constraint in the database: checking it row by row doubled a registry's load
    # time. The primary key's first column indexes the list, and a list is deleted with its entries
    # in one statement by campaigns.donotcall.lists.dnc_list_delete (the ORM's cascade would load
    # millions of entries first).
    dnc_list = models.ForeignKey(
        DoNotCallList, on_delete=models.DO_NOTHING, related_name="entries", db_index=False, db_constraint=False
    )
    number = models.BigIntegerField(help_text="Country code and digits, as one integer.")
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.MANAGER)
    reason = models.CharField(max_length=200, blank=True)
    expires_on = models.DateField(
        null=True, blank=True, help_text="From this day (in PHONON_TIMEZONE) the number may be called again."
    )
    # No index, no constraint check per row (as above): nobody looks entries up by person.
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, db_index=False,
        db_constraint=False, related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "do-not-call entry"
        verbose_name_plural = "do-not-call entries"

    def __str__(self):
        return str(self.number)


class DoNotCallUpload(models.Model):
    """One bulk change of a list from a file (add, replace or remove numbers): who asked, why, and how
    it went. Run by a worker (pages, admin) or synchronously (`manage.py import_dnc`)."""

    class Action(models.TextChoices):
        ADD = "add", "Add the file's numbers"
        REPLACE = "replace", "Replace the list with the file's numbers"
        REMOVE = "remove", "Remove the file's numbers"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a worker"
        RUNNING = "running", "Loading"
        DONE = "done", "Done"
        REFUSED = "refused", "Refused"
        FAILED = "failed", "Failed"

    FINAL_STATUSES = (Status.DONE, Status.REFUSED, Status.FAILED)

    dnc_list = models.ForeignKey(DoNotCallList, on_delete=models.CASCADE, related_name="uploads")
    action = models.CharField(max_length=8, choices=Action.choices, default=Action.ADD)
    source = models.CharField(
        max_length=8, choices=DoNotCallEntry.Source.choices, default=DoNotCallEntry.Source.UPLOAD
    )
    reason = models.CharField(max_length=200, blank=True)
    expires_on = models.DateField(null=True, blank=True)
    original_filename = models.CharField(max_length=255, blank=True)
    stored_file = models.CharField(max_length=500, help_text="Path under MEDIA_ROOT, or the command's own file.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    rows_done = models.PositiveBigIntegerField(default=0)
    imported_count = models.PositiveBigIntegerField(default=0, help_text="Valid numbers read from the file.")
    rejected_count = models.PositiveBigIntegerField(default=0)
    added_count = models.PositiveBigIntegerField(default=0, help_text="Numbers that were not on the list before.")
    removed_count = models.PositiveBigIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "do-not-call upload"
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.get_action_display()} ({self.original_filename or self.stored_file})"

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL_STATUSES


def default_window_days():
    return [0, 1, 2, 3, 4, 5, 6]


class Campaign(models.Model):
    """A contact list run on its flow. The allowed transitions live in dialer/campaign_states.py."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SCHEDULED = "scheduled", "Scheduled"
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    class Priority(models.TextChoices):
        HIGH = "high", "High"
        NORMAL = "normal", "Normal"
        LOW = "low", "Low"

    class OutsideWindow(models.TextChoices):
        MOVE = "move", "Move them to the window's next opening"
        SKIP = "skip", "Do not call them"

    FINAL_STATUSES = (Status.COMPLETED, Status.CANCELLED)
    # Running campaigns of one account and endpoint share the provider's limit in these proportions.
    PRIORITY_WEIGHTS = {Priority.HIGH: 4, Priority.NORMAL: 2, Priority.LOW: 1}

    name = models.CharField(max_length=200)
    contact_list = models.ForeignKey(ContactList, on_delete=models.PROTECT, related_name="campaigns")
    flow = models.ForeignKey(Flow, on_delete=models.PROTECT, related_name="campaigns")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True)
    status_reason = models.TextField(blank=True, help_text="Why the campaign is paused, cancelled or failed.")
    api_version = models.CharField(max_length=8, choices=Flow.ApiVersion.choices, default=Flow.ApiVersion.PRODUCTION)
    batch_size = models.PositiveSmallIntegerField(default=MAX_CALLS_PER_REQUEST)
    priority = models.CharField(
        max_length=8, choices=Priority.choices, default=Priority.NORMAL,
        help_text="Share of the account's limit beside its other running campaigns: high 4, normal 2, low 1.",
    )
    # Identifies this campaign's calls to the provider: client-identifiers are <token>-<seq>, so
    # launching the same list again never repeats an earlier request.
    token = models.CharField(max_length=16, unique=True)
    start_at = models.DateTimeField(null=True, blank=True, help_text="Nothing is sent before this.")
    timezone = models.CharField(max_length=64, default="Asia/Kolkata")
    window_start = models.TimeField(default=datetime.time(9, 0))
    window_end = models.TimeField(
        null=True, blank=True, default=datetime.time(21, 0), help_text="Empty means until midnight (24:00)."
    )
    window_days = models.JSONField(default=default_window_days, help_text="Weekdays, Monday = 0.")
    skip_called_days = models.PositiveSmallIntegerField(
        null=True, blank=True,
        help_text="Skip contacts the account called within this many days; empty calls everyone.",
    )
    outside_window = models.CharField(
        max_length=8, choices=OutsideWindow.choices, default=OutsideWindow.MOVE,
        help_text="What happens to a row whose own start time falls outside the calling window.",
    )
    # Set by planning: the latest start time of its rows, moved inside the window. While it is ahead,
    # the provider holds calls to make later, and the campaign's page lists them.
    last_start_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Redial rules (campaigns.redial_rules): which outcomes are called again, how long after, and how
    # many attempts each contact gets in all (1: no redials). dialer.redials plans them.
    redial_outcomes = models.JSONField(default=list, blank=True, help_text="Outcomes called again, e.g. busy.")
    redial_after_seconds = models.PositiveIntegerField(default=0, help_text="How long after the call a redial waits.")
    max_attempts = models.PositiveSmallIntegerField(default=1, help_text="Calls per contact in all; 1: no redials.")
    # How far the redial planner has looked at outcomes (a little is read again each time, for
    # reports applied late); cleared when the rules change, so that it looks at all of them again.
    redials_checked_until = models.DateTimeField(null=True, blank=True, editable=False)
    # What the keys a person pressed mean, as the manager typed it: "1=confirmed, 2=cancel".
    key_labels = models.TextField(blank=True, help_text="Keys in words, e.g. 1=confirmed, 2=cancel.")
    planned_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("manage_all_accounts", "Can see and run the campaigns of every account in the pages"),
            ("requeue_batches", "Can re-queue a campaign's failed batches"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(batch_size__gte=1) & models.Q(batch_size__lte=MAX_CALLS_PER_REQUEST),
                name="campaign_batch_size_1_500",
            ),
            models.CheckConstraint(
                condition=models.Q(max_attempts__gte=1) & models.Q(max_attempts__lte=10),
                name="campaign_max_attempts_1_10",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL_STATUSES

    @property
    def weight(self) -> int:
        return self.PRIORITY_WEIGHTS[self.priority]


class CampaignEvent(models.Model):
    """Who launched, paused, resumed, cancelled, edited or re-prioritised a campaign, and when: the
    trail on the campaign page. Written by the actions themselves (campaigns.audit)."""

    class Action(models.TextChoices):
        LAUNCHED = "launched", "Launched"
        PAUSED = "paused", "Paused"
        RESUMED = "resumed", "Resumed"
        CANCELLED = "cancelled", "Cancelled"
        EDITED = "edited", "Edited"
        PRIORITY = "priority", "Priority changed"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="audit_events")
    action = models.CharField(max_length=16, choices=Action.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_label = models.CharField(max_length=200, blank=True, help_text="Who, in words: a username, an API key.")
    detail = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["campaign", "-created_at"], name="campaign_event_by_campaign")]

    def __str__(self):
        return f"{self.get_action_display()} by {self.actor_label or 'the system'}"


class AttentionDismissal(models.Model):
    """A manager's "dismiss" on an entry of "Needs your attention": a list's rejected rows or refusal,
    a campaign's failed batches. Each manager dismisses for themselves."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    contact_list = models.ForeignKey(ContactList, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    dismissed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(contact_list__isnull=True) ^ models.Q(campaign__isnull=True),
                name="attention_dismissal_one_target",
            ),
            models.UniqueConstraint(fields=["user", "contact_list"], name="attention_dismissal_list_once"),
            models.UniqueConstraint(fields=["user", "campaign"], name="attention_dismissal_campaign_once"),
        ]
