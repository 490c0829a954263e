"""`/health`: is this deployment able to work? JSON, no login, no secrets.

Checks the database, Redis, a worker heartbeat and the beat heartbeat (config/heartbeats.py);
200 when every check passes, 503 naming the ones that failed. `?only=database,redis` limits the
checks, for a load balancer that should keep a web server in rotation while beat is down.

`HealthMiddleware` answers `/health` before anything else runs, so load balancers and container
health checks can call it over plain HTTP with any Host header (no ALLOWED_HOSTS, no HTTPS
redirect, no session).

Also a container health check without HTTP: `python -m config.health beat` runs the named checks
(comma separated; none: all) and exits 0 when they pass.
"""

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config import heartbeats

HEALTH_PATH = "/health"


def check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True}


def check_redis() -> dict:
    heartbeats.redis_client(settings.REDIS_URL).ping()
    return {"ok": True}


def check_worker() -> dict:
    alive = heartbeats.workers_alive()
    return {"ok": alive > 0, "alive": alive}


def check_beat() -> dict:
    return {"ok": heartbeats.beat_alive()}


CHECKS = {"database": check_database, "redis": check_redis, "worker": check_worker, "beat": check_beat}


def run_checks(names=None) -> dict:
    results = {}
    for name, check in CHECKS.items():
        if names and name not in names:
            continue
        try:
            results[name] = check()
        except Exception as error:  # noqa: BLE001 - any failure is a failed check
            # The class name only: a driver's message may carry a host or a user name.
            results[name] = {"ok": False, "error": type(error).__name__}
    return results


@login_not_required
@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    only = {name.strip() for name in request.GET.get("only", "").split(",") if name.strip()}
    results = run_checks(only & CHECKS.keys() or None)
    failed = sorted(name for name, result in results.items() if not result["ok"])
    body = {"status": "fail" if failed else "ok", "failed": failed, "checks": results}
    return JsonResponse(body, status=503 if failed else 200)


class HealthMiddleware:
    """First in MIDDLEWARE: serves /health ahead of host validation, the HTTPS redirect and sessions."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        if request.path_info == HEALTH_PATH:
            return health(request)
        return self.get_response(request)


if __name__ == "__main__":
    import json
    import os
    import sys

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    names = {name for arg in sys.argv[1:] for name in arg.split(",") if name}
    unknown = names - CHECKS.keys()
    if unknown:
        sys.exit(f"unknown checks: {', '.join(sorted(unknown))}; known: {', '.join(CHECKS)}")
    results = run_checks(names or None)
    print(json.dumps(results))
    sys.exit(0 if all(result["ok"] for result in results.values()) else 1)
