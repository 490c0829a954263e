"""Per-key throttling in Redis: over the rate, a 429 problem with Retry-After; other keys unaffected."""


def test_a_key_over_its_rate_gets_429_with_retry_after(acme_api, globex_api, settings):
    # given
    settings.API_THROTTLE_RATE = "3/60"

    # when
    answers = [acme_api.get("flows/") for _ in range(4)]

    # then
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    refused = answers[-1]
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    assert 1 <= int(refused.headers["Retry-After"]) <= 61
    assert refused.json()["code"] == "throttled"
    assert refused.json()["detail"].startswith("Too many requests with this API key; try again in ")
    assert globex_api.get("flows/").status_code == 200
