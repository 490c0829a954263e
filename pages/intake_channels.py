"""How call lists reach a flow besides the upload page, in the words and addresses a manager copies:
the flow's mail address and the file name and folder of each SFTP or drop-folder intake."""

from dataclasses import dataclass

from flows.models import Flow
from flows.services import flow_intake_address
from intake.models import MailIntake, SftpIntake


@dataclass(frozen=True)
class Channel:
    key: str  # an id for the page: mail, drop-3, sftp-4
    title: str
    value: str  # what to copy
    explanation: str


def flow_intake_channels(flow: Flow) -> list[Channel]:
    channels = []
    if MailIntake.objects.filter(enabled=True).exists():
        senders = [line.strip() for line in (flow.allowed_senders or "").split() if line.strip()]
        allowed = (
            f"Only mail from {', '.join(senders)} is read"
            if senders
            else "No sender is allowed yet (an admin adds them to the flow), so no mail is read"
        )
        channels.append(
            Channel(
                "mail",
                "Mail the list to",
                flow_intake_address(flow),
                f"Attach the CSV or ZIP. {allowed}; the sender gets a reply with what was imported. "
                "Keep the address private: it holds the flow's secret.",
            )
        )
    user = flow.account.client_id.strip().removeprefix("C").removeprefix("c")
    name = f"C{user}_{flow.flow_id}.csv"
    intakes = SftpIntake.objects.filter(account_id=flow.account_id, enabled=True).order_by("name")
    for intake in intakes:
        upload = f"{intake.base_folder.rstrip('/')}/Upload" if intake.base_folder else "Upload"
        if intake.mode == SftpIntake.Mode.LOCAL:
            channels.append(
                Channel(
                    f"drop-{intake.pk}",
                    f"Drop the file into ({intake.name})",
                    f"{upload}/{name}",
                    "Name it as shown (add _upload_DDMMYYYYHHMMSS before .csv for a start time); it moves to Success "
                    "or Failure beside Upload once read.",
                )
            )
        else:
            where = f"sftp://{intake.username}@{intake.host}:{intake.port}/{upload.lstrip('/')}/{name}"
            channels.append(
                Channel(
                    f"sftp-{intake.pk}",
                    f"Upload by SFTP to ({intake.name})",
                    where,
                    "Name it as shown (add _upload_DDMMYYYYHHMMSS before .csv for a start time); it moves to Success "
                    "or Failure beside Upload once read.",
                )
            )
    return channels
