"""The Celery app: settings under CELERY_, tasks found in each app's tasks.py, JSON only."""

import os

from celery import Celery, signals
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("phonon_campaigns")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

import config.heartbeats  # noqa: E402,F401 - heartbeats of workers and beat; logging through settings.LOGGING


@signals.task_prerun.connect
@signals.task_postrun.connect
def _close_old_connections(sender=None, **kwargs):
    # Connections are kept across tasks (CELERY_DB_REUSE_MAX): drop the broken or expired ones
    # (and, with CONN_HEALTH_CHECKS, check a kept one before the task's first query).
    # Not around a task run eagerly, inside its caller's work (and transaction), as Celery's fixup.
    if not getattr(getattr(sender, "request", None), "is_eager", False):
        close_old_connections()
