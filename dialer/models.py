"""Batches of up to 500 calls, each attempt to send one, and the calls (one contact in one campaign)."""

from django.db import models

from campaigns.models import Campaign, Contact
from core.encrypted_fields import EncryptedBinaryField
from phonon.causes import OUTCOME_WORDS, Outcome, cause_words
from phonon.limits import MAX_CALLS_PER_REQUEST


class Batch(models.Model):
    """Up to 500 calls sent as one request. Its body is frozen before the first send and every
    retry resends exactly those bytes (the provider drops a repeat with code 201)."""

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        RETRY_WAIT = "retry_wait", "Waiting to retry"
        UNCERTAIN = "uncertain", "Answer lost; will resend the same bytes"
        HELD = "held", "Held: campaign paused by the provider's answer"
        PLACED = "placed", "Placed"
        PARTIAL = "partial", "Partly placed"
        ACCEPTED_UNKNOWN = "accepted_unknown", "Accepted earlier, UUIDs unknown"
        REJECTED = "rejected", "Rejected by the provider"
        FAILED = "failed", "Failed after retries"
        CANCELLED = "cancelled", "Cancelled"
        SPLIT = "split", "Refused whole; its calls were sent again in halves"

    # Waiting for their turn: the pump moves these to QUEUED when due.
    WAITING_STATUSES = (Status.PLANNED, Status.RETRY_WAIT, Status.UNCERTAIN)
    OPEN_STATUSES = (*WAITING_STATUSES, Status.QUEUED, Status.SENDING, Status.HELD)
    FINAL_STATUSES = (
        Status.PLACED, Status.PARTIAL, Status.ACCEPTED_UNKNOWN, Status.REJECTED, Status.FAILED, Status.CANCELLED,
        Status.SPLIT,
    )

    class Endpoint(models.TextChoices):
        REALTIME = "realtime", "Real time"
        BULK = "bulk", "Bulk"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="batches")
    sequence = models.PositiveIntegerField()
    # A half of a batch the provider refused whole (dialer.splitting); depth counts the halvings.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children", editable=False
    )
    depth = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PLANNED, db_index=True)
    endpoint = models.CharField(max_length=16, choices=Endpoint.choices)
    call_count = models.PositiveSmallIntegerField()
    # Encrypted at rest: a plain body carries the flow's security-id.
    body = EncryptedBinaryField(null=True, blank=True, editable=False, help_text="The exact bytes sent, frozen.")
    body_sha256 = models.CharField(max_length=64, blank=True)
    frozen_at = models.DateTimeField(null=True, blank=True)
    # The claim: who holds the batch, until when.
    claim_token = models.CharField(max_length=32, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # True once a send may have reached the provider: from then on only these bytes may be sent.
    maybe_delivered = models.BooleanField(default=False)
    request_id = models.CharField(max_length=64, blank=True, db_index=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_message = models.TextField(blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "batches"
        ordering = ["campaign", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "sequence"], name="batch_sequence_unique"),
            models.CheckConstraint(
                condition=models.Q(call_count__gte=1) & models.Q(call_count__lte=MAX_CALLS_PER_REQUEST),
                name="batch_1_to_500_calls",
            ),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="batch_due_idx")]

    def __str__(self):
        return f"Batch {self.sequence} of campaign {self.campaign_id}"

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL_STATUSES

    def an_attempt_went_unanswered(self) -> bool:
        """True if a send of this batch may have reached the provider without its answer being read:
        one that ended in silence, or one counted before it left (`attempts`) whose worker died
        before it could write the answer back."""
        answered = models.Q(outcome=BatchAttempt.Outcome.ANSWERED)
        logged = self.attempt_log.aggregate(total=models.Count("pk"), answered=models.Count("pk", filter=answered))
        return logged["total"] > logged["answered"] or logged["answered"] < self.attempts


class BatchAttempt(models.Model):
    """One send of a batch: what happened and how long it took, so a manager can see why."""

    class Outcome(models.TextChoices):
        ANSWERED = "answered", "Answered"
        TIMEOUT = "timeout", "Timed out after sending"
        CONNECTION_ERROR = "connection_error", "Connection error"
        HTTP_ERROR = "http_error", "HTTP error"

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_message = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["batch", "number"]
        # The pages' last-minute figures read attempts by time: an index keeps that a small range
        # however many attempts history holds.
        indexes = [models.Index(fields=["created_at"], name="batch_attempt_created_idx")]


class CallOutcome(models.TextChoices):
    ANSWERED = Outcome.ANSWERED.value, OUTCOME_WORDS[Outcome.ANSWERED]
    BUSY = Outcome.BUSY.value, OUTCOME_WORDS[Outcome.BUSY]
    NO_ANSWER = Outcome.NO_ANSWER.value, OUTCOME_WORDS[Outcome.NO_ANSWER]
    REJECTED = Outcome.REJECTED.value, OUTCOME_WORDS[Outcome.REJECTED]
    UNREACHABLE = Outcome.UNREACHABLE.value, OUTCOME_WORDS[Outcome.UNREACHABLE]
    FAILED = Outcome.FAILED.value, OUTCOME_WORDS[Outcome.FAILED]
    UNKNOWN = Outcome.UNKNOWN.value, OUTCOME_WORDS[Outcome.UNKNOWN]


class Call(models.Model):
    """One contact in one campaign: the unit the provider dials, and its outcome."""

    class State(models.TextChoices):
        PENDING = "pending", "Waiting"
        PLACED = "placed", "Placed"
        ACCEPTED_UNKNOWN = "accepted_unknown", "Accepted, UUID unknown"
        REJECTED = "rejected", "Rejected"
        SKIPPED = "skipped", "Skipped"
        # A cancel stopped a batch whose last send went unanswered (a read timeout, a worker gone):
        # the provider may have taken it, so it is never recorded as not sent, nor sent again.
        MAYBE_PLACED = "maybe_placed", "May have been placed"

    FINAL_STATES = (State.PLACED, State.ACCEPTED_UNKNOWN, State.REJECTED, State.SKIPPED, State.MAYBE_PLACED)

    # Few indexes on purpose: a campaign inserts its calls by the million and rewrites each once.
    # campaign_id is covered by the two composite indexes below; contacts are never deleted while
    # a campaign holds them (the list is protected), so contact_id needs no index of its own.
    # No foreign-key constraints in the database either (db_constraint=False): on PostgreSQL each
    # one queued a check per inserted call, run at commit with a row lock on the row it points to,
    # which made up three quarters of planning's time. Planning inserts only ids it has just read
    # or created in the same transaction, and deletes go through the ORM, which still cascades
    # (a campaign's calls) and sets null (a dropped batch's calls) as on_delete says.
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="calls", db_index=False, db_constraint=False
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="calls", db_index=False, db_constraint=False
    )
    batch = models.ForeignKey(
        Batch, null=True, blank=True, on_delete=models.SET_NULL, related_name="calls", db_constraint=False
    )
    # "<campaign token>-<contact id, 12 digits>", written by planning: unique by construction (the
    # token is unique, and so is a contact in a campaign: the constraint below), so it has no index
    # of its own. One would cost a sixth of planning's writes (WAL) for nothing: calls are found by
    # batch, and admin's search turns an identifier into the (campaign, contact) key.
    client_identifier = models.CharField(max_length=64)
    # 1 for the first call of a contact, 2 for its first redial (dialer.redials), ... A redial is a new
    # Call with its own client-identifier ("<token>-<contact id>-<attempt>"); a first call's keeps
    # the form above. Database default: planning's INSERT leaves it out.
    attempt = models.PositiveSmallIntegerField(default=1, db_default=1)
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    phonon_uuid = models.CharField(max_length=64, blank=True)
    provider_code = models.PositiveSmallIntegerField(null=True, blank=True)
    provider_message = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    # What happened after the provider took the call: derived from its delivery reports (CallLeg
    # rows) by dialer.outcomes alone, and only ever forward (phonon.causes.moves_forward). Database
    # defaults, because planning inserts calls with its own INSERT ... SELECT.
    outcome = models.CharField(
        max_length=16, choices=CallOutcome.choices, default=CallOutcome.UNKNOWN, db_default=CallOutcome.UNKNOWN
    )
    outcome_note = models.CharField(
        max_length=200, blank=True, default="", db_default="", help_text="Why the outcome is what it is, if not plain."
    )
    hangup_cause = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Q.850 cause of the deciding leg.")
    answered_number = models.CharField(max_length=20, blank=True, default="", db_default="")
    talk_ms = models.PositiveIntegerField(null=True, blank=True)
    keys = models.CharField(max_length=64, blank=True, default="", db_default="", help_text="Keys pressed, in order.")
    connected_at = models.DateTimeField(null=True, blank=True)
    outcome_at = models.DateTimeField(null=True, blank=True, help_text="When the outcome was last changed.")
    # The Pull API reconciler's bookkeeping for calls whose report did not come.
    pulled_at = models.DateTimeField(null=True, blank=True)
    pull_attempts = models.PositiveSmallIntegerField(default=0, db_default=0)

    class Meta:
        ordering = ["campaign", "id"]
        constraints = [
            # Invariant 1: a contact's attempt belongs to at most one batch of a campaign (one call per
            # attempt; a contact without redial rules has attempt 1 only).
            models.UniqueConstraint(fields=["campaign", "contact", "attempt"], name="call_contact_attempt_once"),
        ]
        indexes = [
            models.Index(fields=["campaign", "state"], name="call_campaign_state_idx"),
            # Reports find their call by uuid; partial, so that planning's blank uuids cost nothing.
            models.Index(fields=["phonon_uuid"], name="call_phonon_uuid_idx", condition=~models.Q(phonon_uuid="")),
            # The reconciler's queue: placed calls still without an outcome, least recently pulled first.
            models.Index(
                fields=["pulled_at"],
                name="call_outcome_pending_idx",
                condition=models.Q(outcome="unknown", outcome_note="") & ~models.Q(phonon_uuid=""),
            ),
            # The redial planner's queue: calls with an outcome that rules may call again, by campaign
            # and the time the outcome came. Partial: planning's fresh calls (unknown) cost nothing.
            models.Index(
                fields=["campaign", "outcome_at"],
                name="call_redial_due_idx",
                condition=models.Q(outcome__in=("busy", "no_answer", "failed", "unreachable", "rejected")),
            ),
            # The pages' reads of one campaign (pages.views.campaigns, dialer.redials), partial so that
            # planning's fresh calls cost nothing: what people pressed, grouped by key string, read
            # from the index alone; and the sent calls still waiting for the outcome that may ask for
            # a redial, counted per campaign (the reconciler's index above spans every campaign).
            models.Index(fields=["campaign", "keys"], name="call_keys_idx", condition=~models.Q(keys="")),
            models.Index(
                fields=["campaign", "attempt"],
                name="call_awaiting_outcome_idx",
                condition=models.Q(outcome="unknown", outcome_note="") & ~models.Q(phonon_uuid=""),
            ),
        ]

    def __str__(self):
        return self.client_identifier

    @property
    def hangup_words(self) -> str:
        """The Q.850 cause in words (`17 user busy`), or why there is no outcome."""
        return cause_words(self.hangup_cause) or self.outcome_note

    @property
    def talk_seconds(self) -> float | None:
        return None if self.talk_ms is None else round(self.talk_ms / 1000, 1)


class CallTally(models.Model):
    """How many of a campaign's calls are in one state: stored, so that no page counts calls per poll.

    Changed only through dialer.tallies, in the transaction of the statement that creates or moves
    the calls. Each (campaign, state) is spread over a few shards so that workers writing back
    batches of one campaign at once do not queue on one row lock; a writer picks any shard, so
    only the sum over shards means anything (one shard may hold a negative count)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="call_tallies", db_index=False)
    state = models.CharField(max_length=20, choices=Call.State.choices)
    shard = models.PositiveSmallIntegerField(default=0)
    n = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "state", "shard"], name="call_tally_one_row_per_shard"),
        ]

    def __str__(self):
        return f"{self.state} calls of campaign {self.campaign_id} (shard {self.shard}): {self.n}"


class AcceptedTally(models.Model):
    """How many of a campaign's calls the provider accepted (placed, or accepted with UUID unknown)
    on one day in PHONON_TIMEZONE: the dashboard's "accepted today" without reading calls. Kept
    like CallTally, in the same transactions."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="accepted_tallies", db_index=False)
    day = models.DateField()
    shard = models.PositiveSmallIntegerField(default=0)
    n = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "day", "shard"], name="accepted_tally_one_row_per_shard"),
        ]
        indexes = [models.Index(fields=["day"], name="accepted_tally_day_idx")]

    def __str__(self):
        return f"calls of campaign {self.campaign_id} accepted on {self.day} (shard {self.shard}): {self.n}"


class OutcomeReport(models.Model):
    """A delivery report as it came (pushed to a flow's report URL, or one entry of a Pull answer),
    stored before the sender is answered and applied afterwards by a worker. Kept whatever became of
    it, so that a person can see what the provider sent: refused and unmatched ones included."""

    class Source(models.TextChoices):
        PUSH = "push", "Pushed by the provider"
        PULL = "pull", "Fetched through the Pull API"
        SANDBOX = "sandbox", "Pushed by the sandbox"

    class Status(models.TextChoices):
        PENDING = "pending", "Stored, to be applied"
        APPLIED = "applied", "Applied"
        UNMATCHED = "unmatched", "No call found: kept for a person to see"
        REFUSED = "refused", "Refused: not one of this flow's calls"
        MALFORMED = "malformed", "Refused: not a delivery report"
        OVERSIZED = "oversized", "Refused: too large (kept cut)"

    flow = models.ForeignKey("flows.Flow", on_delete=models.CASCADE, related_name="outcome_reports")
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.PUSH)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    received_at = models.DateTimeField(auto_now_add=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    phonon_uuid = models.CharField(max_length=64, blank=True)
    call = models.ForeignKey(
        Call, null=True, blank=True, on_delete=models.SET_NULL, related_name="reports", db_constraint=False
    )
    body = models.TextField(help_text="The body as received (cut at the size limit when oversized).")
    note = models.TextField(blank=True, help_text="What was done with it, in words.")
    # A report that matched no call while the flow had requests whose answer is not read yet is
    # tried again from this time on (its call may be among them), rather than left unmatched.
    retry_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            # The appliers' queue: partial, so it holds only the reports still to apply.
            models.Index(fields=["id"], name="outcome_report_pending_idx", condition=models.Q(status="pending")),
            models.Index(fields=["flow", "status"], name="outcome_report_flow_idx"),
            models.Index(fields=["phonon_uuid"], name="outcome_report_uuid_idx"),
        ]

    def __str__(self):
        return f"Report {self.pk} ({self.get_status_display()}) for {self.phonon_uuid or 'no uuid'}"


class CallLeg(models.Model):
    """One `callDetails` entry of a report: one attempt at one number, kept once per cdrId."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="legs", db_constraint=False)
    cdr_id = models.CharField("cdrId", max_length=200)
    report = models.ForeignKey(
        OutcomeReport, null=True, blank=True, on_delete=models.SET_NULL, related_name="legs", db_constraint=False
    )
    callee_number = models.CharField(max_length=20, blank=True)
    did_number = models.CharField(max_length=20, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ringing_at = models.DateTimeField(null=True, blank=True)
    rang = models.BooleanField(default=False)
    connected_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    hangup_cause = models.PositiveSmallIntegerField(null=True, blank=True)
    remote_hangup = models.BooleanField(null=True, blank=True)
    keys = models.JSONField(default=list, blank=True, help_text='[{"key": "1", "at": ISO time, "label": ""}]')
    raw = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["call", "started_at", "id"]
        constraints = [models.UniqueConstraint(fields=["call", "cdr_id"], name="call_leg_once_per_cdr_id")]

    def __str__(self):
        return self.cdr_id


class CallMessage(models.Model):
    """An SMS or e-mail the flow sent, from `smsDetails` / `emailDetails` of a report."""

    class Kind(models.TextChoices):
        SMS = "sms", "SMS"
        EMAIL = "email", "E-mail"

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="messages", db_constraint=False)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    message_id = models.CharField(max_length=200)
    recipient = models.CharField(max_length=200, blank=True)
    sender = models.CharField(max_length=200, blank=True)
    text = models.TextField(blank=True, help_text="The SMS text, or the e-mail's subject.")
    status = models.CharField(max_length=64, blank=True)
    sent_at = models.CharField(max_length=64, blank=True)
    raw = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["call", "id"]
        constraints = [
            models.UniqueConstraint(fields=["call", "kind", "message_id"], name="call_message_once"),
        ]


class OutcomeTally(models.Model):
    """How many of a campaign's calls have one outcome, and their talk time: stored, changed only by
    dialer.outcomes in the transaction that moves the calls (sharded like CallTally). `outcome` is a
    Call outcome, or "given_up" for calls the reconciler stopped pulling (they stay unknown)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="outcome_tallies", db_index=False)
    outcome = models.CharField(max_length=16)
    shard = models.PositiveSmallIntegerField(default=0)
    n = models.BigIntegerField(default=0)
    talk_ms = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "outcome", "shard"], name="outcome_tally_one_row_per_shard"),
        ]


class KeyTally(models.Model):
    """How many of a campaign's calls pressed one key (at least once), kept like OutcomeTally."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="key_tallies", db_index=False)
    key = models.CharField(max_length=4)
    shard = models.PositiveSmallIntegerField(default=0)
    n = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "key", "shard"], name="key_tally_one_row_per_shard")]


class OutcomeChange(models.Model):
    """A call whose outcome changed, waiting for the next `calls.outcomes` event of its campaign:
    written in the transaction that changed the call, deleted when the event is recorded (an
    outbox, so a change is sent exactly once and many changes go out in one event)."""

    campaign_id = models.BigIntegerField(db_index=True)
    call_id = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
