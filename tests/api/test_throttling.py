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


def test_each_key_keeps_its_own_budget_when_the_provider_limit_is_per_endpoint(acme_api, globex_api, settings):
    # given one provider limit for every account, and an API rate of 3 a minute
    settings.PHONON_RATE_SCOPE = "endpoint"
    settings.API_THROTTLE_RATE = "3/60"

    # when Acme's key uses up its budget
    acme = [acme_api.get("flows/").status_code for _ in range(4)]

    # then Globex's key still has all of its own
    assert acme == [200, 200, 200, 429]
    assert [globex_api.get("flows/").status_code for _ in range(3)] == [200, 200, 200]
