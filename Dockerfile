# One image for web, worker, beat and sandbox (docker-compose.yml picks the command).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production
WORKDIR /app

RUN apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core curl \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
# collectstatic needs settings only, not the real secrets.
RUN DJANGO_SECRET_KEY=build DJANGO_ALLOWED_HOSTS=build PERURI_API_KEY=build PERURI_SYSTEM_ID=build \
    PERURI_BASE_URL=http://build/ PARAF_FIELD_ENCRYPTION_KEYS=build \
    python manage.py collectstatic --noinput

RUN useradd --system --uid 10001 paraf && mkdir -p /app/var && chown -R paraf /app/var
USER paraf
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "60"]
