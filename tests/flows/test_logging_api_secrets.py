"""Issue 24, finding 10: the API's and webhooks' secrets never reach a log line through the configured
console handler: the secret of `Authorization: Api-Key <prefix>.<secret>` (not only the word Api-Key), a
webhook signing secret `whsec_…` wherever it stands, `api_key=` and `secret=` values."""

import logging

from tests.flows.test_logging import console_output

API_SECRET = "Qm9sdC1hcGkta2V5LXNlY3JldA"
WEBHOOK_SECRET = "whsec_4f7c2e9a1b8d6f3c5e0a9b7d"


def test_api_keys_and_webhook_secrets_are_redacted_and_the_rest_of_each_line_kept():
    log = logging.getLogger("api.views")

    with console_output() as output:
        log.warning("refused %s", {"HTTP_AUTHORIZATION": f"Api-Key AbCd1234.{API_SECRET}"})
        log.warning("Authorization: Api-Key AbCd1234.%s from 127.0.0.1", API_SECRET)
        log.info("endpoint 7 signs with %s (rotated)", WEBHOOK_SECRET)
        log.info("GET /x?api_key=%s&page=2", API_SECRET)
        log.info("webhook created secret=%s url=https://hooks.example.com/in", WEBHOOK_SECRET.removeprefix("whsec_"))
    text = output.getvalue()

    assert API_SECRET not in text and WEBHOOK_SECRET.removeprefix("whsec_") not in text
    assert "from 127.0.0.1" in text and "(rotated)" in text and "page=2" in text
    assert "url=https://hooks.example.com/in" in text
    assert text.count("***") == 5
