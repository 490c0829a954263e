"""Celery tasks of redials: thin wrappers, safe to run twice."""

from celery import shared_task

from dialer.redials.best_time_store import best_time_compute


@shared_task(ignore_result=True)
def best_time_compute_task(account_id: int, zone: str, days: int) -> int:
    """Asked by a page whose best time is missing or old (dialer.redials.best_time_results)."""
    return best_time_compute(account_id=account_id, zone=zone, days=days).calls
