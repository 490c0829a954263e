# The one image for web, worker, beat and migrate (docker-compose.yml picks the command).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 1000 phonon \
    && useradd --system --uid 1000 --gid phonon --home-dir /app --shell /usr/sbin/nologin phonon

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

# Static files are collected into the image (served by whitenoise). Production settings refuse
# to load without their secrets, so this one step gets throwaway values that never reach a
# running container (RUN-scoped, not ENV).
RUN DEBUG=0 \
    SECRET_KEY=build-only-collectstatic-key-not-used-at-run-time-0123456789 \
    FIELD_ENCRYPTION_KEYS=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
    ALLOWED_HOSTS=build.invalid \
    python manage.py collectstatic --noinput \
    && mkdir -p /app/var/media /app/var/beat \
    && chown -R phonon:phonon /app/var

USER phonon
EXPOSE 8000

# The same command as docker-compose.yml's web service (gthread: see there).
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "4", "--worker-class", "gthread", \
     "--threads", "8", "--timeout", "120", "--access-logfile", "-"]
