"""The README's ten lines that verify a webhook signature agree with what the sender signs."""

import re
import time
from pathlib import Path

from api.webhooks.signing import signature_header

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_verifier():
    block = re.search(r"A receiver checks a delivery.*?```python\n(.*?)```", README.read_text(), re.DOTALL).group(1)
    namespace = {}
    exec(block, namespace)  # noqa: S102 - our own README
    return namespace["phonon_signature_ok"]


def test_the_readme_verifier_accepts_our_signature_and_refuses_tampering_and_replays():
    # given
    verify = readme_verifier()
    body = b'{"id": "e1", "type": "campaign.completed"}'
    now = int(time.time())

    # then
    assert verify("whsec_1", body, signature_header(secret="whsec_1", body=body, timestamp=now))
    assert not verify("whsec_2", body, signature_header(secret="whsec_1", body=body, timestamp=now))
    assert not verify("whsec_1", body + b" ", signature_header(secret="whsec_1", body=body, timestamp=now))
    assert not verify("whsec_1", body, signature_header(secret="whsec_1", body=body, timestamp=now - 600))


def test_the_readme_verifier_accepts_either_secret_while_one_is_rotated():
    verify = readme_verifier()
    body = b'{"id": "e1"}'
    header = signature_header(secret=["whsec_new", "whsec_old"], body=body, timestamp=int(time.time()))
    assert verify("whsec_new", body, header) and verify("whsec_old", body, header)
    assert not verify("whsec_other", body, header)
