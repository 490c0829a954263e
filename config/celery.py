"""The Celery app: settings under CELERY_, tasks found in each app's tasks.py, JSON only."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("phonon_campaigns")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

import config.heartbeats  # noqa: E402,F401 - heartbeats of workers and beat; logging through settings.LOGGING
