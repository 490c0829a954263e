"""`seed_demo`: the demo logins, account, flow and call list that `make run` starts with."""

import json
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from flows.models import Account
from flows.services import flow_upsert

DEMO_FLOW_ID = "DEMOflw1"


class Command(BaseCommand):
    help = "Create the demo logins, account and flow (idempotent), and a demo call list to upload."

    def add_arguments(self, parser):
        parser.add_argument("--password", default="phonon-demo")
        parser.add_argument("--rows", type=int, default=1200)

    def handle(self, *args, **options):
        User = get_user_model()
        admin, _ = User.objects.get_or_create(username="admin", defaults={"is_staff": True, "is_superuser": True})
        admin.is_staff = admin.is_superuser = True
        admin.set_password(options["password"])
        admin.save()
        manager, _ = User.objects.get_or_create(username="manager")
        manager.set_password(options["password"])
        manager.save()
        # The preset group of campaigns/migrations/0012_campaign_manager_group.py (do-not-call changes).
        manager.groups.add(*Group.objects.filter(name="Campaign manager"))
        flow, _ = flow_upsert(
            flow_id=DEMO_FLOW_ID, security_id="demo-security-id-0001", kind="multicast", mode="realtime",
            account_client_id="C100001", name="Demo reminder flow", dids=["918045678901"],
        )
        account = Account.objects.get(client_id="C100001")
        account.name = "Demo account"
        account.save()
        account.managers.add(admin, manager)
        demo_csv = Path(settings.BASE_DIR) / "var" / "demo_calls.csv"
        demo_csv.parent.mkdir(parents=True, exist_ok=True)
        with demo_csv.open("w") as out:
            out.write("tel1,tel2,$flow.key.name\n")
            for index in range(options["rows"]):
                out.write(f"9198{index:08d},9197{index:08d},Customer {index}\n")
        self.stdout.write(json.dumps({
            "admin": "admin", "manager": "manager", "password": options["password"], "flow_id": flow.flow_id,
            "demo_csv": str(demo_csv),
        }))
