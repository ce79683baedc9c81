# One image for every role of the console: `web` (gunicorn, deploy/gunicorn.conf.py),
# `scheduler`, `worker` (the job worker) and `migrate` (`manage.py db upgrade`, then `setup`).
# The entry point (deploy/entrypoint.sh) refuses to start without CONSOLE_SECRET_KEY and
# CONSOLE_DATABASE_URL. deploy/compose.yml runs them all; README.md "Production" explains.
# The first admin: mount a secret file and set CONSOLE_ADMIN_PASSWORD_FILE (and
# CONSOLE_ADMIN_EMAIL); `manage.py setup` never prints a password to the container log.

# --- builder: every wheel the console needs (compilers only here) ----------------------
FROM python:3.11-slim AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY setup.cfg pyproject.toml README.md ./
COPY console ./console
RUN pip wheel --wheel-dir /wheels .

# --- runtime: the wheels installed on a slim base, no compilers, a non-root user --------
FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CONSOLE_HOME=/app \
    CONSOLE_JOBS_QUEUE_PATH=/home/console/jobs.db
RUN useradd --create-home --uid 10001 --user-group console
COPY --from=builder /wheels /wheels
RUN pip install --no-index --find-links=/wheels airflow-console && rm -rf /wheels
WORKDIR /app
COPY manage.py ./
COPY deploy/gunicorn.conf.py deploy/entrypoint.sh ./deploy/
USER console
EXPOSE 8000
ENTRYPOINT ["/app/deploy/entrypoint.sh"]
CMD ["web"]
