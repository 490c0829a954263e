"""The project package: settings, Celery, URLs, health, metrics; the top layer, imported by no app."""

from .celery import app as celery_app

__all__ = ("celery_app",)
