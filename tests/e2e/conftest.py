import pytest

from tests.processes import Processes


@pytest.fixture
def start_processes(artifacts_dir, request):
    """Start real worker (and beat) processes; stopped after the test."""
    started = []

    def start(*, workers=1, beat=True, **env):
        log_dir = artifacts_dir / "e2e-logs" / request.node.name
        processes = Processes(workers=workers, beat=beat, log_dir=log_dir, **env).start()
        started.append(processes)
        return processes

    yield start
    for processes in started:
        processes.stop()
