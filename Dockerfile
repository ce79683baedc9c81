# Production image: gunicorn serving the console. Run the scheduler (and `python manage.py worker`,
# the job worker) from the same image
# with `python manage.py scheduler` as a second container (exactly one leader is elected).
# The first admin: mount a secret file and set CONSOLE_ADMIN_PASSWORD_FILE (and
# CONSOLE_ADMIN_EMAIL); `manage.py setup` never prints a password to the container log.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY setup.cfg pyproject.toml README.md manage.py ./
COPY console ./console
RUN pip install --no-cache-dir . && useradd --create-home console
USER console
ENV CONSOLE_DATABASE_URL=sqlite:////home/console/console.db
EXPOSE 8000
CMD ["sh", "-c", "python manage.py db upgrade && python manage.py setup && exec gunicorn --workers 4 --threads 4 --bind 0.0.0.0:8000 'console:create_app()'"]
