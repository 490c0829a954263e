"""What people pressed: per question, in the manager's words; the pressed filter; a list of the
contacts who gave one answer, ready to launch (dialer.redials.survey), on the page and in the export."""

import csv
import io

import pytest
from django.urls import reverse

from campaigns.key_labels import parse_key_labels
from campaigns.models import Campaign, ContactList
from dialer import campaign_actions
from dialer.models import Call
from dialer.outcomes.tallies import outcomes_recount
from dialer.planning import campaign_plan
from dialer.redials.survey import answer_list, calls_pressed, keys_in_words, survey_results
from dialer.results import export_results_csv
from dialer.tallies import calls_recount
from tests.factories import make_contact_list

pytestmark = pytest.mark.django_db

# Contact by contact: what each pressed (two questions), "" for nobody answered.
PRESSED = ["12", "11", "2", "", "1", "21"]


@pytest.fixture
def surveyed(acme_flow):
    contact_list = make_contact_list(acme_flow, len(PRESSED), name="Survey list")
    campaign = campaign_actions.campaign_create(
        contact_list=contact_list, window="00:00-24:00", key_labels="1=confirmed, 2=cancel"
    )
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SCHEDULED)
    while not campaign_plan(campaign_id=campaign.pk):
        pass
    for call, keys in zip(Call.objects.filter(campaign=campaign).order_by("contact_id"), PRESSED, strict=True):
        Call.objects.filter(pk=call.pk).update(
            state=Call.State.PLACED, outcome="answered" if keys else "no_answer", keys=keys
        )
    calls_recount(campaign_id=campaign.pk)
    outcomes_recount(campaign_id=campaign.pk)  # written behind the product's back, as above
    campaign.refresh_from_db()
    return campaign


def test_key_words_are_read_as_typed_and_refused_in_words():
    assert parse_key_labels(" 1 = confirmed ,2=cancel;9=agent") == {"1": "confirmed", "2": "cancel", "9": "agent"}
    for text in ("1 confirmed", "x=yes", "1=", "1=a, 1=b"):
        with pytest.raises(ValueError):
            parse_key_labels(text)
    assert keys_in_words("129", {"1": "confirmed", "2": "cancel"}) == "confirmed, cancel, 9"


def test_each_question_is_counted_by_the_key_pressed_in_that_place(surveyed):
    results = survey_results(surveyed)
    assert results.pressed == 5 and results.several_questions
    first, second = results.questions
    assert [(a.key, a.words, a.contacts, a.percent) for a in first.answers] == [
        ("1", "confirmed", 3, 60),
        ("2", "cancel", 2, 40),
    ]
    assert [(a.key, a.contacts) for a in second.answers] == [("1", 2), ("2", 1)]


def test_the_pressed_filter_narrows_calls_to_one_answer(surveyed):
    calls = Call.objects.filter(campaign=surveyed)
    assert sorted(calls_pressed(calls, key="2").values_list("keys", flat=True)) == ["12", "2", "21"]
    assert sorted(calls_pressed(calls, key="1", question=2).values_list("keys", flat=True)) == ["11", "21"]


def test_the_contacts_who_gave_one_answer_become_a_list_to_launch(surveyed):
    chosen = answer_list(campaign=surveyed, key="2", question=1)
    assert chosen.status == ContactList.Status.IMPORTED and chosen.imported_count == 2
    assert chosen.name.endswith(": cancel to question 1")
    numbers = set(chosen.contacts.values_list("primary_number", flat=True))
    expected = {c.contact.primary_number for c in Call.objects.filter(campaign=surveyed, keys__startswith="2")}
    assert numbers == expected
    with pytest.raises(ValueError, match="Nobody in this campaign gave the answer “pressed 9”"):
        answer_list(campaign=surveyed, key="9")


def test_the_export_writes_the_keys_in_words(surveyed):
    out = io.StringIO()
    export_results_csv(surveyed, out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [row["keys_in_words"] for row in rows] == [
        "confirmed, cancel",
        "confirmed, confirmed",
        "cancel",
        "",
        "confirmed",
        "cancel, confirmed",
    ]


def test_the_campaign_page_shows_the_answers_in_words_and_lists_them(client, alice, surveyed):
    client.force_login(alice)
    page = client.get(reverse("campaign_detail", args=[surveyed.pk])).content.decode()
    assert "What people pressed" in page and "confirmed" in page and "Question 2" in page
    filtered = client.get(reverse("campaign_calls", args=[surveyed.pk]), {"pressed": "2", "question": "1"})
    assert "2 calls whose person pressed 2 to question 1" in filtered.content.decode()
    response = client.post(reverse("campaign_answer_list", args=[surveyed.pk]), {"pressed": "1", "question": "1"})
    chosen = ContactList.objects.get(source=ContactList.Source.RETRY)
    assert response.status_code == 302 and reverse("list_launch", args=[chosen.pk]) in response["Location"]
    assert chosen.imported_count == 3
