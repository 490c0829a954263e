"""Timing the pages for bench_pages: the URLs measured, p50/p95 of each, and where one request's time
goes (its queries and their time, or a cProfile of the whole request with --profile)."""

import cProfile
import io
import pstats
import statistics
import time

API_KEY_HEADER = "HTTP_AUTHORIZATION"


def page_urls(campaign, redial=None) -> dict[str, str]:
    """{page name: URL}: the campaign's page, its live fragment (polled), the calls table (first page,
    by outcome, by what was pressed), the list, the dashboard (the account's best time to call) and
    the API's campaign and calls; the same for a campaign with redials when there is one."""
    from django.urls import reverse

    urls = {
        "trivial": "/health?only=database",
        "campaign_detail": reverse("campaign_detail", args=[campaign.pk]),
        "campaign_live": reverse("campaign_live", args=[campaign.pk]),
        "calls": reverse("campaign_calls", args=[campaign.pk]),
        "calls_page_40": reverse("campaign_calls", args=[campaign.pk]) + "?calls=40",
        "calls_busy": reverse("campaign_calls", args=[campaign.pk]) + "?outcome=busy",
        "calls_rejected": reverse("campaign_calls", args=[campaign.pk]) + "?outcome=rejected",
        "calls_pressed": reverse("campaign_calls", args=[campaign.pk]) + "?pressed=2",
        "campaign_list": reverse("campaign_list"),
        "dashboard": reverse("dashboard"),
        "api_campaign": reverse("api_campaign_detail", args=[campaign.pk]),
        "api_calls": reverse("api_call_list", args=[campaign.pk]),
        "api_calls_busy": reverse("api_call_list", args=[campaign.pk]) + "?outcome=busy",
    }
    if redial is not None:
        urls.update({
            "redial_detail": reverse("campaign_detail", args=[redial.pk]),
            "redial_live": reverse("campaign_live", args=[redial.pk]),
            "redial_calls": reverse("campaign_calls", args=[redial.pk]),
            "redial_calls_answered": reverse("campaign_calls", args=[redial.pk]) + "?outcome=answered",
            "redial_pressed_q2": reverse("campaign_calls", args=[redial.pk]) + "?pressed=1&question=2",
            "api_redial_calls": reverse("api_call_list", args=[redial.pk]),
        })
    return urls


def _get(client, url: str, api_key: str):
    if url.startswith("/api/"):
        return client.get(url, **{API_KEY_HEADER: f"Api-Key {api_key}"})
    if "/live/" in url or "/calls/" in url:
        return client.get(url, HTTP_HX_REQUEST="true")  # as the page's htmx asks for them
    return client.get(url)


def measure(client, url: str, requests: int, api_key: str) -> dict:
    _get(client, url, api_key)  # warm: templates, caches, connection
    times, cpu = [], []
    for _ in range(requests):
        started, cpu_started = time.perf_counter(), time.process_time()
        response = _get(client, url, api_key)
        times.append((time.perf_counter() - started) * 1000)
        # This process's CPU for the request (the page's Python, not the database's): on a shared
        # machine the wall time mostly measures the neighbours.
        cpu.append((time.process_time() - cpu_started) * 1000)
        assert response.status_code == 200, (url, response.status_code, response.content[:300])
    times.sort()
    return {"p50": statistics.median(times), "p95": times[max(0, int(round(0.95 * len(times))) - 1)],
            "max": times[-1], "cpu_p50": statistics.median(cpu)}


def queries_of(client, url: str, api_key: str) -> dict:
    """One request's queries: how many, their time in all, and the slowest three (SQL cut short)."""
    from django.db import connection

    seen = []

    def timed(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            seen.append(((time.perf_counter() - started) * 1000, sql))

    with connection.execute_wrapper(timed):
        _get(client, url, api_key)
    seen.sort(key=lambda item: -item[0])
    return {"count": len(seen), "ms": sum(ms for ms, _ in seen), "slowest": [(round(ms, 1), sql[:300])
                                                                            for ms, sql in seen[:3]]}


def profile_of(client, url: str, api_key: str, lines: int = 25) -> str:
    _get(client, url, api_key)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(5):
        _get(client, url, api_key)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    # The project's own functions by cumulative time, then every function by its own time.
    stats.sort_stats("cumulative").print_stats(r"/(pages|dialer|campaigns|api|phonon|flows|core)/", lines)
    stats.sort_stats("tottime").print_stats(lines)
    return out.getvalue()


def measure_all(client, urls: dict[str, str], requests: int, api_key: str) -> dict:
    return {name: measure(client, url, requests, api_key) for name, url in urls.items()}
