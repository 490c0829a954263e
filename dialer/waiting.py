"""Waiting for a campaign to end, from a command that may outlive a database restart.

The workers carry a campaign through a PostgreSQL restart on their own (claims and leases); a command
that only watches must not die with a traceback either. Each look is one short query; a lost
connection is closed and retried until the deadline, and then the caller says so in one line.
"""

import time

from django.db import DatabaseError, InterfaceError, OperationalError, close_old_connections, connection

from campaigns.models import Campaign

LOOK_EVERY = 0.5


class DatabaseAway(Exception):
    """The database did not answer before the deadline; the message says for how long."""


def campaign_wait(*, campaign_id: int, timeout: float, sleep=time.sleep) -> Campaign:
    """The campaign once it is final or paused, or as it stands at the deadline."""
    deadline = time.monotonic() + timeout
    campaign, away_since = None, None
    while True:
        try:
            campaign = Campaign.objects.get(pk=campaign_id)
            away_since = None
        except (OperationalError, InterfaceError):  # the connection is gone (a restart, a failover)
            away_since = away_since or time.monotonic()
            _forget_connection()
        if campaign is not None and away_since is None:
            if campaign.is_final or campaign.status == Campaign.Status.PAUSED:
                return campaign
        if time.monotonic() > deadline:
            if away_since is not None:
                raise DatabaseAway(
                    f"The database has not answered for {time.monotonic() - away_since:.0f} s; the workers go on "
                    f"with campaign {campaign_id} when it is back; run the command again to see the result."
                )
            return campaign
        sleep(LOOK_EVERY)


def _forget_connection() -> None:
    """Drop the broken connection so that the next query opens a new one."""
    try:
        connection.close()
    except DatabaseError:
        connection.connection = None
    close_old_connections()
