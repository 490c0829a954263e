import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from phonon.sandbox import start_sandbox_thread


@pytest.fixture(scope="session")
def sandbox_private_key():
    """One 2048-bit key for the whole session: generating one takes about 100 ms."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def other_private_key():
    """A second 2048-bit key, one the sandbox does not hold."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def keyed_sandbox(sandbox_private_key):
    """The sandbox provider with the session's key, on a free loopback port."""
    running = start_sandbox_thread(private_key=sandbox_private_key)
    yield running
    running.stop()
