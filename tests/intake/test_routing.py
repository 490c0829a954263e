"""Addresses, allowed senders and SFTP file names: which flow, and why not."""

from email.message import EmailMessage

import pytest

from flows.services import flow_intake_address, flow_intake_token_rotate
from intake.routing import (
    envelope_recipient,
    flow_for_address,
    is_partial_name,
    route_file_name,
    sender_allowed,
)
from tests.factories import make_flow

pytestmark = pytest.mark.django_db


def test_a_flow_answers_at_the_pattern_address_with_its_token_unless_it_has_its_own(settings, flow):
    settings.MAIL_INTAKE_PATTERN = "lists+{flow_id}@intake.example"
    assert flow_intake_address(flow) == "lists+ZH0RKJvh.a1b2c3d4e5f6@intake.example"
    assert flow_for_address("lists+ZH0RKJvh.a1b2c3d4e5f6@intake.example") == flow
    # mail systems may lower-case the local part; the flow-id is still found when unambiguous
    assert flow_for_address("LISTS+zh0rkjvh.A1B2C3D4E5F6@Intake.Example") == flow
    assert flow_for_address("lists+Unknown1.a1b2c3d4e5f6@intake.example") is None
    assert flow_for_address("other+ZH0RKJvh.a1b2c3d4e5f6@intake.example") is None

    flow.intake_address = "reminders@lists.example"
    flow.save()
    assert flow_intake_address(flow) == "reminders@lists.example"
    assert flow_for_address("Reminders@Lists.Example") == flow
    assert flow_for_address("lists+ZH0RKJvh.a1b2c3d4e5f6@intake.example") is None


def test_the_flow_id_alone_or_a_wrong_or_rotated_token_routes_nowhere(settings, flow):
    settings.MAIL_INTAKE_PATTERN = "calls+{flow_id}@example.com"
    assert flow_for_address("calls+ZH0RKJvh@example.com") is None
    assert flow_for_address("calls+ZH0RKJvh.000000000000@example.com") is None
    old = flow_intake_address(flow)
    flow_intake_token_rotate(flow=flow)
    assert flow_for_address(old) is None
    assert flow_for_address(flow_intake_address(flow)) == flow


def test_the_default_pattern_is_used_when_the_setting_is_empty(settings, flow):
    settings.MAIL_INTAKE_PATTERN = ""
    assert flow_intake_address(flow) == "calls+ZH0RKJvh.a1b2c3d4e5f6@example.com"


def test_only_the_topmost_envelope_recipient_routes_never_to_or_cc(settings):
    settings.MAIL_INTAKE_RECIPIENT_HEADER = "Delivered-To"
    message = EmailMessage()
    message["Delivered-To"] = "calls+ZH0RKJvh.a1b2c3d4e5f6@example.com"
    message["Delivered-To"] = "forged@example.com"  # lower down: written before our MTA saw the mail
    message["To"] = "A <a@x.example>, b@x.example"
    assert envelope_recipient(message) == "calls+zh0rkjvh.a1b2c3d4e5f6@example.com"
    only_to = EmailMessage()
    only_to["To"] = "calls+ZH0RKJvh.a1b2c3d4e5f6@example.com"
    assert envelope_recipient(only_to) == ""
    settings.MAIL_INTAKE_RECIPIENT_HEADER = "X-Original-To"
    assert envelope_recipient(message) == ""


@pytest.mark.parametrize(
    ("sender", "allowed"),
    [
        ("alice@customer.example", True),
        ("ALICE@Customer.Example", True),
        ("bob@partner.example", True),
        ("bob@sub.partner.example", False),
        ("eve@customer.example", False),
        ("", False),
        ("not-an-address", False),
    ],
)
def test_allowed_senders_are_addresses_or_whole_domains(flow, sender, allowed):
    assert sender_allowed(flow, sender) is allowed


def test_an_empty_allowed_senders_list_allows_nobody(flow):
    flow.allowed_senders = "  \n"
    assert not sender_allowed(flow, "alice@customer.example")


@pytest.mark.parametrize("client_id", ["C129113", "129113"])
def test_both_name_forms_route_whether_the_client_id_keeps_its_c(db, client_id):
    flow = make_flow(flow_id="o9vJavuB", client_id=client_id)
    account = flow.account
    assert route_file_name("C129113_o9vJavuB.csv", account).flow == flow
    assert route_file_name("C129113_o9vJavuB_upload_08022020211200.csv", account).flow == flow
    assert route_file_name("c129113_o9vJavuB.ZIP", account).flow == flow


def test_file_names_that_do_not_route_say_why(flow):
    account = flow.account
    assert "does not follow" in route_file_name("list.csv", account).refusal
    assert "does not follow" in route_file_name("C129113_ZH0RKJvh.xlsx", account).refusal
    assert "gives user ID C1, but this folder belongs to account C129113" in route_file_name(
        "C1_ZH0RKJvh.csv", account
    ).refusal
    assert 'has no flow "ZZZZZZZZ"' in route_file_name("C129113_ZZZZZZZZ.csv", account).refusal
    assert "is not a date and time" in route_file_name("C129113_ZH0RKJvh_upload_32132020251200.csv", account).refusal


def test_a_flow_of_another_account_does_not_route(flow):
    other = make_flow(flow_id="Other123", client_id="C777")
    assert route_file_name("C129113_Other123.csv", flow.account).flow is None
    assert route_file_name("C777_Other123.csv", other.account).flow == other


@pytest.mark.parametrize(
    ("name", "partial"),
    [("C1_abcdefgh.csv", False), ("C1_abcdefgh.csv.part", True), (".C1_abcdefgh.csv", True),
     ("C1_abcdefgh.csv.filepart", True), ("x.tmp", True)],
)
def test_names_that_upload_tools_write_to_are_partial(name, partial):
    assert is_partial_name(name) is partial
