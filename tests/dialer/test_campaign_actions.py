"""A campaign's actions (dialer.campaign_actions): each a keyword-only service; what each changes,
records and queues; every refusal one ActionRefused in words, telling the state apart from the values."""

import inspect

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from campaigns.models import Campaign, CampaignEvent, ContactList
from campaigns.redial_rules import redial_rules
from dialer import campaign_actions, campaign_states
from dialer.campaign_actions import ActionRefused
from dialer.models import Batch, Call
from dialer.planning import campaign_plan
from events.models import Event
from tests.factories import make_contact_list, make_flow

pytestmark = pytest.mark.django_db

SERVICES = [
    "contact_list_check_launchable", "campaign_create", "campaign_launch", "campaign_schedule", "campaign_plan_soon",
    "campaign_duplicate", "campaign_pause", "campaign_resume", "campaign_cancel", "campaign_edit",
    "campaign_redials_edit", "campaign_set_priority", "campaign_retry_list", "campaign_requeue_failed",
    "contact_list_archive", "contact_list_unarchive",
]


@pytest.fixture
def contact_list():
    return make_contact_list(make_flow(), 4, name="June")


def _running(contact_list, **settings):
    campaign = campaign_actions.campaign_create(contact_list=contact_list, window="00:00-24:00", batch_size=2,
                                                **settings)
    campaign_actions.campaign_schedule(campaign=campaign)
    campaign_plan(campaign_id=campaign.pk)
    assert campaign_states.campaign_start(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    return campaign


def _trail(campaign) -> list[tuple[str, str, str]]:
    return list(CampaignEvent.objects.filter(campaign=campaign).order_by("id").values_list(
        "action", "actor_label", "detail"))


@pytest.mark.parametrize("name", SERVICES)
def test_every_action_takes_keywords_only(name):
    parameters = inspect.signature(getattr(campaign_actions, name)).parameters.values()

    assert parameters
    assert {p.kind for p in parameters} <= {inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.VAR_KEYWORD}
    with pytest.raises(TypeError):
        getattr(campaign_actions, name)(object())


def test_a_launch_schedules_the_campaign_records_who_and_plans_it_once_committed(
    contact_list, django_capture_on_commit_callbacks
):
    manager = get_user_model().objects.create_user("asha")

    with django_capture_on_commit_callbacks() as planned:
        campaign = campaign_actions.campaign_launch(contact_list=contact_list, actor=manager, name="Reminders",
                                                    priority="high")

    assert (campaign.status, campaign.name, campaign.priority, campaign.created_by) == (
        Campaign.Status.SCHEDULED, "Reminders", "high", manager)
    assert _trail(campaign) == [(CampaignEvent.Action.LAUNCHED, "asha", "June (4 contacts)")]
    assert len(planned) == 1


def test_a_launch_by_a_label_keeps_no_creator(contact_list):
    campaign = campaign_actions.campaign_launch(contact_list=contact_list, actor="API key “CRM”")

    assert campaign.created_by is None
    assert _trail(campaign)[0][1] == "API key “CRM”"


@pytest.mark.parametrize(("values", "sentence"), [
    ({"batch_size": 501}, "A batch holds 1 to 500 calls (the provider's maximum)."),
    ({"priority": "urgent"}, "A priority is high, normal or low; got 'urgent'."),
    ({"window_days": []}, "Choose at least one weekday for the calling window."),
    ({"skip_called_days": 400}, "Look back 0 to 365 days for contacts already called."),
    ({"outside_window": "drop"}, "Rows outside the window are moved or skipped; got 'drop'."),
])
def test_bad_values_are_refused_in_words_as_values_not_as_a_state(contact_list, values, sentence):
    with pytest.raises(ActionRefused) as refused:
        campaign_actions.campaign_create(contact_list=contact_list, **values)

    assert str(refused.value) == sentence
    assert refused.value.conflict is False
    assert not Campaign.objects.exists()


def test_a_bad_window_and_a_list_still_importing_are_refused_in_words(contact_list):
    with pytest.raises(ActionRefused) as refused:
        campaign_actions.campaign_create(contact_list=contact_list, window="25:00-26:00")
    assert not refused.value.conflict and str(refused.value)

    ContactList.objects.filter(pk=contact_list.pk).update(status=ContactList.Status.IMPORTING)
    contact_list.refresh_from_db()
    with pytest.raises(ActionRefused, match="The list “June” is importing, not imported."):
        campaign_actions.campaign_launch(contact_list=contact_list)


def test_pause_resume_and_cancel_change_the_state_record_the_event_and_the_trail(contact_list):
    campaign = _running(contact_list)

    campaign_actions.campaign_pause(campaign=campaign, actor="asha")
    campaign.refresh_from_db()
    assert (campaign.status, campaign.status_reason) == (Campaign.Status.PAUSED, "Paused by a manager (asha).")
    campaign_actions.campaign_resume(campaign=campaign, actor="asha")
    campaign.refresh_from_db()
    assert (campaign.status, campaign.status_reason) == (Campaign.Status.RUNNING, "")
    campaign_actions.campaign_cancel(campaign=campaign, actor="ravi", reason="Wrong list.")
    campaign.refresh_from_db()

    assert (campaign.status, campaign.status_reason) == (Campaign.Status.CANCELLED, "Wrong list.")
    assert campaign.finished_at is not None
    assert set(Call.objects.filter(campaign=campaign).values_list("state", flat=True)) == {Call.State.SKIPPED}
    assert list(Event.objects.order_by("id").values_list("type", flat=True)) == [
        "campaign.started", "campaign.paused", "campaign.resumed", "campaign.cancelled"]
    assert [(action, actor) for action, actor, _ in _trail(campaign)] == [
        (CampaignEvent.Action.PAUSED, "asha"), (CampaignEvent.Action.RESUMED, "asha"),
        (CampaignEvent.Action.CANCELLED, "ravi")]


def test_a_transition_the_state_does_not_allow_is_refused_in_words_as_a_conflict(contact_list):
    draft = campaign_actions.campaign_create(contact_list=contact_list)

    for action, sentence in [
        (campaign_actions.campaign_pause, "Only a running campaign can be paused; this one is draft."),
        (campaign_actions.campaign_resume, "Only a paused campaign can be resumed; this one is draft."),
    ]:
        with pytest.raises(ActionRefused) as refused:
            action(campaign=draft)
        assert (str(refused.value), refused.value.conflict) == (sentence, True)
    campaign_actions.campaign_cancel(campaign=draft)
    with pytest.raises(ActionRefused, match="A cancelled campaign cannot be cancelled."):
        campaign_actions.campaign_cancel(campaign=draft)
    assert not CampaignEvent.objects.exclude(action=CampaignEvent.Action.CANCELLED).exists()


def test_resume_gives_held_batches_another_go_rebuilding_only_those_never_delivered(contact_list):
    campaign = _running(contact_list)
    first, second = Batch.objects.filter(campaign=campaign).order_by("sequence")
    Batch.objects.filter(pk__in=[first.pk, second.pk]).update(status=Batch.Status.HELD, body=b"{}", body_sha256="x")
    Batch.objects.filter(pk=second.pk).update(maybe_delivered=True)
    campaign_states.campaign_pause_by_system(campaign_id=campaign.pk, reason="The provider answered 211")

    campaign_actions.campaign_resume(campaign=campaign)

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.body, first.body_sha256) == (Batch.Status.PLANNED, None, "")
    assert (second.status, bytes(second.body)) == (Batch.Status.UNCERTAIN, b"{}")


def test_an_edit_changes_a_paused_campaign_and_names_each_change_but_not_a_running_one(contact_list):
    campaign = _running(contact_list, name="June")

    with pytest.raises(ActionRefused, match="Only a scheduled or paused campaign can be edited; this one is running"):
        campaign_actions.campaign_edit(campaign=campaign, name="July", start_at=None, window="10:00-18:00",
                                       window_days=[0, 1], timezone_name="Asia/Kolkata")
    campaign_actions.campaign_pause(campaign=campaign)
    campaign_actions.campaign_edit(campaign=campaign, name="July", start_at=None, window="10:00-18:00",
                                   window_days=[1, 0, 1], timezone_name="Asia/Kolkata", actor="asha")

    assert (campaign.name, f"{campaign.window_start:%H:%M}", campaign.window_days) == ("July", "10:00", [0, 1])
    assert _trail(campaign)[-1] == (
        CampaignEvent.Action.EDITED, "asha", "name: June → July; window: 00:00–24:00 → 10:00–18:00; "
        "weekdays: Mon, Tue, Wed, Thu, Fri, Sat, Sun → Mon, Tue")


def test_redial_rules_change_until_the_campaign_ends(contact_list):
    campaign = _running(contact_list)
    rules = redial_rules(outcomes="busy", after="30m", max_attempts=3)

    campaign_actions.campaign_redials_edit(campaign=campaign, rules=rules, key_labels="1=yes")
    assert (campaign.redial_outcomes, campaign.redial_after_seconds, campaign.max_attempts, campaign.key_labels) == (
        ["busy"], 1800, 3, "1=yes")
    campaign_actions.campaign_cancel(campaign=campaign)
    with pytest.raises(ActionRefused, match="A cancelled campaign's redial rules can no longer change."):
        campaign_actions.campaign_redials_edit(campaign=campaign, rules=rules)


def test_a_duplicate_launches_another_list_with_the_same_settings(contact_list):
    rules = redial_rules(outcomes="busy,no_answer", after="2h", max_attempts=2)
    first = campaign_actions.campaign_launch(
        contact_list=contact_list, window="10:00-19:30", window_days=[0, 2, 4], timezone_name="Asia/Dubai",
        batch_size=50, priority="low", outside_window="skip", skip_called_days=7, redials=rules, key_labels="1=yes",
    )
    other = make_contact_list(contact_list.flow, 2, first=10, name="July")

    copied = campaign_actions.campaign_duplicate(campaign=first)
    second = campaign_actions.campaign_launch(contact_list=other, **copied)

    fields = ("window_start", "window_end", "window_days", "timezone", "batch_size", "api_version", "priority",
              "outside_window", "skip_called_days", "redial_outcomes", "redial_after_seconds", "max_attempts",
              "key_labels")
    assert [getattr(second, name) for name in fields] == [getattr(first, name) for name in fields]
    assert (second.contact_list, second.name) != (first.contact_list, first.name)


def test_priority_changes_until_the_campaign_is_final_and_only_a_change_is_recorded(contact_list):
    campaign = _running(contact_list)

    campaign_actions.campaign_set_priority(campaign=campaign, priority="high", actor="asha")
    campaign_actions.campaign_set_priority(campaign=campaign, priority="high", actor="asha")
    assert Campaign.objects.get(pk=campaign.pk).priority == "high"
    assert _trail(campaign) == [(CampaignEvent.Action.PRIORITY, "asha", "Normal → High")]
    with pytest.raises(ActionRefused) as refused:
        campaign_actions.campaign_set_priority(campaign=campaign, priority="top")
    assert refused.value.conflict is False
    campaign_actions.campaign_cancel(campaign=campaign)
    campaign.refresh_from_db()
    with pytest.raises(ActionRefused, match="A cancelled campaign's priority cannot change."):
        campaign_actions.campaign_set_priority(campaign=campaign, priority="low")


def test_failed_batches_are_not_sent_again_for_a_cancelled_campaign(contact_list):
    campaign = _running(contact_list)
    Batch.objects.filter(campaign=campaign).update(status=Batch.Status.FAILED, completed_at=timezone.now())

    assert campaign_actions.campaign_requeue_failed(campaign=campaign) == 2
    campaign_actions.campaign_cancel(campaign=campaign)
    with pytest.raises(ActionRefused, match="A cancelled campaign's batches cannot be sent again."):
        campaign_actions.campaign_requeue_failed(campaign=campaign)


def test_retry_of_a_running_campaign_is_refused_and_its_list_cannot_be_archived(contact_list):
    campaign = _running(contact_list)

    with pytest.raises(ActionRefused, match="Retry once the campaign is completed or cancelled"):
        campaign_actions.campaign_retry_list(campaign=campaign)
    with pytest.raises(ActionRefused, match="A list with a scheduled, running or paused campaign cannot be archived"):
        campaign_actions.contact_list_archive(contact_list=contact_list)
    campaign_actions.campaign_cancel(campaign=campaign)
    campaign_actions.contact_list_archive(contact_list=contact_list)
    campaign.refresh_from_db()
    retry = campaign_actions.campaign_retry_list(campaign=campaign, actor="asha")

    assert ContactList.objects.get(pk=contact_list.pk).archived_at is not None
    assert (retry.imported_count, retry.created_by) == (4, None)
