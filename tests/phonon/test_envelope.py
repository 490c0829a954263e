"""The encrypted dialer envelope: every profile through the sandbox's encrypted endpoint over HTTP,
refusals of wrong keys and tampering, and the checks on the provider's public key."""

import base64
import json
from datetime import datetime, timedelta, timezone

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from phonon.envelope import PROFILES, PublicKeyRefused, seal, validate_public_key
from phonon.sandbox import start_sandbox_thread

FLOW = "ZH0RKJvh"
SECRET = "s3cret-from-edit-flow"
ENCRYPTED = "/realtime/kairos-apis/enc/outbounddialer/create"
IST = timezone(timedelta(hours=5, minutes=30))


def plain_body(*client_ids, flow_id=FLOW) -> bytes:
    start = (datetime.now(IST) + timedelta(days=1)).replace(hour=10, minute=30, second=0, microsecond=0)
    calls = [
        {
            "client-identifier": client_id,
            "start-time": start.isoformat(),
            "contact-numbers": ["919812345678"],
            "keys": [{"name": "$flow.key.name", "value": "Abhinandan"}],
        }
        for client_id in client_ids or ("c1",)
    ]
    body = {"api-version": "1.0", "security-id": SECRET, "flow-id": flow_id, "calls": calls}
    return json.dumps(body, separators=(",", ":")).encode()


def public_pem(private_key) -> str:
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def send(sandbox, envelope: bytes) -> dict:
    response = requests.post(
        sandbox.base_url + ENCRYPTED, data=envelope, headers={"Content-Type": "application/json"}, timeout=5
    )
    assert response.status_code == 200, response.text
    return response.json()


def sealed(sandbox, plain: bytes, profile: str, flow_id=FLOW) -> bytes:
    return seal(plain, flow_id=flow_id, public_key_pem=sandbox.provider.public_key_pem(), profile=profile)


def tampered(envelope: bytes, profile: str) -> bytes:
    data = json.loads(envelope)
    encrypted = bytearray(base64.b64decode(data["requestEncryptedValue"]))
    # Inside the first block of ciphertext (after GCM's nonce or CBC's IV): the JSON's opening bytes.
    encrypted[{"oaep-gcm": 12, "pkcs1-cbc": 16, "pkcs1-ecb": 0}[profile] + 3] ^= 0x40
    data["requestEncryptedValue"] = base64.b64encode(bytes(encrypted)).decode()
    return json.dumps(data).encode()


@pytest.fixture(scope="module")
def rsa_4096_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=4096)


@pytest.mark.parametrize("profile", PROFILES)
def test_each_profile_round_trips_through_the_encrypted_endpoint(keyed_sandbox, profile):
    answer = send(keyed_sandbox, sealed(keyed_sandbox, plain_body("c1", "c2"), profile))

    assert answer["api-response-code"] == 200
    assert [detail["client-identifier"] for detail in answer["call-details"]] == ["c1", "c2"]
    entry = keyed_sandbox.provider.ledger()[0]
    assert entry["path"] == ENCRYPTED and entry["api"] == "encrypted"
    assert entry["keys"] == [{"name": "$flow.key.name", "value": "Abhinandan"}]


@pytest.mark.parametrize("profile", PROFILES)
def test_a_flow_registered_with_a_profile_is_opened_with_that_profile(keyed_sandbox, profile):
    keyed_sandbox.provider.register_flow(FLOW, SECRET, kind="dialer", profile=profile)
    other = next(name for name in PROFILES if name != profile)

    assert send(keyed_sandbox, sealed(keyed_sandbox, plain_body("c1"), profile))["api-response-code"] == 200
    assert send(keyed_sandbox, sealed(keyed_sandbox, plain_body("c2"), other))["api-response-code"] == 400


@pytest.mark.parametrize("profile", PROFILES)
def test_an_envelope_sealed_with_another_rsa_key_is_refused_with_400(keyed_sandbox, other_private_key, profile):
    envelope = seal(plain_body(), flow_id=FLOW, public_key_pem=public_pem(other_private_key), profile=profile)

    assert send(keyed_sandbox, envelope) == {"api-response-code": 400, "api-response-message": "Invalid Format"}
    assert keyed_sandbox.provider.ledger() == []


@pytest.mark.parametrize("profile", PROFILES)
def test_a_tampered_encrypted_value_is_refused_with_400(keyed_sandbox, profile):
    envelope = sealed(keyed_sandbox, plain_body(), profile)

    assert send(keyed_sandbox, tampered(envelope, profile))["api-response-code"] == 400
    assert keyed_sandbox.provider.ledger() == []
    assert send(keyed_sandbox, envelope)["api-response-code"] == 200


@pytest.mark.parametrize(
    "envelope",
    [
        b"not json",
        b'{"flow-id": "ZH0RKJvh"}',
        b'{"requestEncryptedValue": "%%%", "requestDigitalSignatureValue": "%%%", "flow-id": "ZH0RKJvh"}',
    ],
    ids=["not-json", "no-values", "not-base64"],
)
def test_an_envelope_that_is_not_one_is_refused_with_400(keyed_sandbox, envelope):
    assert send(keyed_sandbox, envelope)["api-response-code"] == 400


def test_the_envelope_flow_id_must_be_the_plaintexts_else_210(keyed_sandbox):
    envelope = sealed(keyed_sandbox, plain_body(flow_id=FLOW), "oaep-gcm", flow_id="Other123")

    assert send(keyed_sandbox, envelope)["api-response-code"] == 210


def test_a_multicast_flow_on_the_encrypted_endpoint_is_refused_with_301(keyed_sandbox):
    keyed_sandbox.provider.register_flow(FLOW, SECRET, kind="multicast")

    assert send(keyed_sandbox, sealed(keyed_sandbox, plain_body(), "oaep-gcm"))["api-response-code"] == 301


def test_a_resent_envelope_and_a_resealed_plaintext_are_both_checksum_repeated(keyed_sandbox):
    plain = plain_body("c1")
    envelope = sealed(keyed_sandbox, plain, "pkcs1-cbc")
    assert send(keyed_sandbox, envelope)["api-response-code"] == 200

    assert send(keyed_sandbox, envelope)["api-response-code"] == 201
    assert send(keyed_sandbox, sealed(keyed_sandbox, plain, "oaep-gcm"))["api-response-code"] == 201
    assert len(keyed_sandbox.provider.ledger()) == 1


@pytest.mark.parametrize("profile", PROFILES)
def test_every_seal_uses_a_fresh_aes_key(sandbox_private_key, profile):
    plain = plain_body()
    first, second = (
        json.loads(seal(plain, flow_id=FLOW, public_key_pem=public_pem(sandbox_private_key), profile=profile))
        for _ in range(2)
    )

    assert first["requestEncryptedValue"] != second["requestEncryptedValue"]
    scheme = (
        padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
        if profile == "oaep-gcm"
        else padding.PKCS1v15()
    )
    first_key, second_key = (
        sandbox_private_key.decrypt(base64.b64decode(envelope["requestDigitalSignatureValue"]), scheme)
        for envelope in (first, second)
    )
    assert len(first_key) == len(second_key) == 32
    assert first_key != second_key


def test_a_4096_bit_key_gives_a_512_byte_rsa_value_and_round_trips(rsa_4096_key):
    with start_sandbox_thread(private_key=rsa_4096_key) as running:
        envelope = seal(
            plain_body(), flow_id=FLOW, public_key_pem=running.provider.public_key_pem(), profile="pkcs1-ecb"
        )
        values = json.loads(envelope)

        assert len(base64.b64decode(values["requestDigitalSignatureValue"])) == 512
        assert len(base64.b64decode(values["requestEncryptedValue"])) % 16 == 0
        assert send(running, envelope)["api-response-code"] == 200


def test_validate_public_key_accepts_rsa_2048_and_4096(sandbox_private_key, rsa_4096_key):
    assert validate_public_key(public_pem(sandbox_private_key)).key_size == 2048
    assert validate_public_key(public_pem(rsa_4096_key)).key_size == 4096


@pytest.mark.parametrize(
    "make_pem, message",
    [
        (lambda: public_pem(ec.generate_private_key(ec.SECP256R1())), "must be an RSA key"),
        (lambda: public_pem(rsa.generate_private_key(public_exponent=65537, key_size=1024)), "1024 bits"),
        (lambda: "-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n", "not a PEM public key"),
        (lambda: "garbage", "not a PEM public key"),
    ],
    ids=["ec-key", "rsa-1024", "bad-pem-body", "garbage"],
)
def test_validate_public_key_refuses_with_a_clear_message(make_pem, message):
    with pytest.raises(PublicKeyRefused) as refused:
        validate_public_key(make_pem())

    assert message in str(refused.value)
