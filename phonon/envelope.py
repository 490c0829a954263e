"""The encrypted dialer endpoint's envelope: the plain request encrypted with a fresh AES-256 key,
the key encrypted with the provider's RSA public key. Three profiles (DESIGN.md)."""

import base64
import json
import os

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PROFILES = ("oaep-gcm", "pkcs1-cbc", "pkcs1-ecb")
MIN_RSA_BITS = 2048


class EnvelopeError(Exception):
    """An envelope that cannot be opened: wrong key, tampered value or not an envelope."""


class PublicKeyRefused(ValueError):
    """The provider's public key is not one we can seal with; the message says why in words."""


def validate_public_key(pem: str) -> rsa.RSAPublicKey:
    try:
        key = serialization.load_pem_public_key(pem.strip().encode())
    except (ValueError, TypeError) as error:
        raise PublicKeyRefused("This is not a PEM public key.") from error
    if not isinstance(key, rsa.RSAPublicKey):
        raise PublicKeyRefused("The provider's key must be an RSA key.")
    if key.key_size < MIN_RSA_BITS:
        raise PublicKeyRefused(f"The RSA key has {key.key_size} bits; at least {MIN_RSA_BITS} are needed.")
    return key


def _oaep() -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def _pkcs7_pad(data: bytes) -> bytes:
    padder = sym_padding.PKCS7(128).padder()
    return padder.update(data) + padder.finalize()


def _pkcs7_unpad(data: bytes) -> bytes:
    unpadder = sym_padding.PKCS7(128).unpadder()
    return unpadder.update(data) + unpadder.finalize()


def seal(plain_body: bytes, *, flow_id: str, public_key_pem: str, profile: str) -> bytes:
    """Return the envelope's JSON bytes for one request, with a key used for this request only."""
    if profile not in PROFILES:
        raise ValueError(f"Unknown encryption profile {profile!r}.")
    public_key = validate_public_key(public_key_pem)
    aes_key = os.urandom(32)
    if profile == "oaep-gcm":
        nonce = os.urandom(12)
        encrypted = nonce + AESGCM(aes_key).encrypt(nonce, plain_body, None)
        wrapped = public_key.encrypt(aes_key, _oaep())
    else:
        if profile == "pkcs1-cbc":
            iv = os.urandom(16)
            encryptor = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).encryptor()
            encrypted = iv + encryptor.update(_pkcs7_pad(plain_body)) + encryptor.finalize()
        else:
            encryptor = Cipher(algorithms.AES(aes_key), modes.ECB()).encryptor()
            encrypted = encryptor.update(_pkcs7_pad(plain_body)) + encryptor.finalize()
        wrapped = public_key.encrypt(aes_key, padding.PKCS1v15())
    envelope = {
        "requestEncryptedValue": base64.b64encode(encrypted).decode(),
        "requestDigitalSignatureValue": base64.b64encode(wrapped).decode(),
        "flow-id": flow_id,
    }
    return json.dumps(envelope, separators=(",", ":")).encode()


def open_envelope(envelope: dict, *, private_key: rsa.RSAPrivateKey, profile: str) -> bytes:
    """Decrypt an envelope with the provider's private key (the sandbox's side)."""
    try:
        encrypted = base64.b64decode(envelope["requestEncryptedValue"], validate=True)
        wrapped = base64.b64decode(envelope["requestDigitalSignatureValue"], validate=True)
    except (KeyError, TypeError, ValueError) as error:
        raise EnvelopeError("The envelope's values are missing or not base64.") from error
    try:
        if profile == "oaep-gcm":
            aes_key = private_key.decrypt(wrapped, _oaep())
            if len(encrypted) < 12 + 16:
                raise EnvelopeError("The encrypted value is too short for AES-GCM.")
            return AESGCM(aes_key).decrypt(encrypted[:12], encrypted[12:], None)
        aes_key = private_key.decrypt(wrapped, padding.PKCS1v15())
        if len(aes_key) != 32:
            raise EnvelopeError("The wrapped key is not an AES-256 key.")
        if profile == "pkcs1-cbc":
            iv, body = encrypted[:16], encrypted[16:]
            decryptor = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).decryptor()
        else:
            body = encrypted
            decryptor = Cipher(algorithms.AES(aes_key), modes.ECB()).decryptor()
        if not body or len(body) % 16:
            raise EnvelopeError("The encrypted value is not a whole number of AES blocks.")
        return _pkcs7_unpad(decryptor.update(body) + decryptor.finalize())
    except EnvelopeError:
        raise
    except Exception as error:  # cryptography raises several types for a wrong key or tampering
        raise EnvelopeError("The envelope cannot be decrypted: wrong key or tampered value.") from error
