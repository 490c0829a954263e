"""`launch_campaign`: launch an imported list; with --wait, block until the campaign is final."""

import datetime
import sys

from campaigns.models import Campaign, ContactList
from campaigns.redial_rules import redial_rules
from core.json_command import JsonCommand
from dialer import campaign_actions
from dialer.outcomes.tallies import SUMMARY_KEYS, outcomes_wait
from dialer.progress import campaign_summary
from dialer.recent_calls import DEFAULT_LOOK_BACK_DAYS
from dialer.review import launch_review, review_lines
from dialer.waiting import DatabaseAway, campaign_wait


class Command(JsonCommand):
    help = "Launch an imported contact list as a campaign; with --wait, block until it is final."

    def add_arguments(self, parser):
        parser.add_argument("--list", type=int, required=True, dest="list_id")
        parser.add_argument("--start", help="ISO-8601 start time; nothing is sent before it.")
        parser.add_argument("--window", default="09:00-21:00", help="Daily calling window HH:MM-HH:MM "
                            "(00:00-24:00 lifts it).")
        parser.add_argument("--batch-size", type=int)
        parser.add_argument("--api-version", choices=["1.0", "TEST"])
        parser.add_argument("--name", default="")
        parser.add_argument("--yes", action="store_true", help="Launch without asking (for scripts).")
        parser.add_argument("--look-back-days", type=int, default=DEFAULT_LOOK_BACK_DAYS,
                            help="Contacts the account called within this many days are skipped (default 7).")
        parser.add_argument("--include-called", action="store_true",
                            help="Call the contacts already called within the look-back too.")
        parser.add_argument("--priority", choices=Campaign.Priority.values, default=Campaign.Priority.NORMAL,
                            help="Share of the account's limit beside its other running campaigns.")
        parser.add_argument("--outside-window", choices=Campaign.OutsideWindow.values,
                            default=Campaign.OutsideWindow.MOVE,
                            help="Rows whose own start time is outside the window: move them to its next opening "
                                 "(default) or skip them.")
        parser.add_argument("--redial", help="Outcomes to call again, e.g. busy,no_answer (also failed, "
                            "unreachable, rejected).")
        parser.add_argument("--redial-after", help="How long after the call a redial waits: 90s, 30m, 2h (default 2h).")
        parser.add_argument("--max-attempts", type=int, help="Calls per contact in all, the first included "
                            "(default 3 once --redial is given; 1: no redials).")
        parser.add_argument("--wait", action="store_true")
        parser.add_argument("--timeout", type=float, default=3600.0)
        parser.add_argument("--wait-outcomes", type=float, default=0.0, metavar="S",
                            help="With --wait: then wait up to S seconds for the calls' outcomes (reports).")

    def handle(self, *args, **options):
        contact_list = ContactList.objects.select_related("flow").filter(pk=options["list_id"]).first()
        if contact_list is None:
            self.refuse(f"There is no contact list {options['list_id']}.")
        start_at = None
        if options["start"]:
            try:
                start_at = datetime.datetime.fromisoformat(options["start"])
            except ValueError:
                self.refuse(f"--start must be ISO-8601, e.g. 2026-11-24T10:30:00+05:30; got {options['start']!r}.")
            if start_at.tzinfo is None:
                self.refuse("--start needs a UTC offset, e.g. +05:30.")
        if contact_list.flow.listener_warning:
            # Scripts are not stopped (stdout keeps its one JSON object); the person running them is told.
            self.stderr.write(f"Warning: {contact_list.flow.listener_warning}")
        if not 1 <= options["look_back_days"] <= 365:
            self.refuse("--look-back-days must be 1 to 365.")
        skip_called = not options["include_called"]
        try:
            redials = redial_rules(outcomes=options["redial"], after=options["redial_after"],
                                   max_attempts=options["max_attempts"])
        except ValueError as error:
            self.refuse(str(error))
        if contact_list.status == ContactList.Status.IMPORTED:
            try:
                review = launch_review(contact_list=contact_list, start_at=start_at, window=options["window"],
                                       look_back_days=options["look_back_days"], skip_called=skip_called,
                                       priority=options["priority"], outside_window=options["outside_window"],
                                       redial_rules=redials, batch_size=options["batch_size"])
            except ValueError as error:
                self.refuse(str(error))
            # The review goes to stderr: stdout stays one JSON object for scripts.
            self.stderr.write("\n".join(review_lines(review)))
            if not options["yes"] and not self._confirmed():
                self.refuse("Not launched: answer y to launch, or pass --yes in scripts.")
        try:
            campaign = campaign_actions.campaign_launch(
                contact_list=contact_list, name=options["name"], start_at=start_at, window=options["window"],
                batch_size=options["batch_size"], api_version=options["api_version"], priority=options["priority"],
                outside_window=options["outside_window"],
                skip_called_days=None if options["include_called"] else options["look_back_days"],
                redials=redials,
            )
        except campaign_actions.ActionRefused as error:
            self.refuse(str(error))
        if not options["wait"]:
            self.print_json({"campaign_id": campaign.pk, "status": campaign.status})
            return
        try:
            campaign = campaign_wait(campaign_id=campaign.pk, timeout=options["timeout"])
            summary = campaign_summary(campaign)
        except DatabaseAway as away:
            self.refuse(str(away))
        if campaign.status_reason:
            summary["reason"] = campaign.status_reason
        outcomes = outcomes_wait(campaign_id=campaign.pk, timeout=max(options["wait_outcomes"], 0.0))
        summary["outcomes"] = {key: outcomes.counts.get(key, 0) for key in SUMMARY_KEYS}
        self.print_json(summary)
        if campaign.status != Campaign.Status.COMPLETED:
            raise SystemExit(1)

    def _confirmed(self) -> bool:
        self.stderr.write("Launch this campaign? [y/N] ", ending="")
        self.stderr.flush()
        answer = sys.stdin.readline()
        return answer.strip().lower() in ("y", "yes")
