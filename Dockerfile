# One image for every capgate service in docker-compose.yml: workers, the
# retry pump, migrations, health checks and Flower (the "ops" extra).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY capgate ./capgate
COPY contracts ./contracts
COPY workers ./workers
COPY adapters ./adapters
COPY audit ./audit
COPY registry ./registry
COPY migrations ./migrations
RUN pip install ".[ops]"

# Celery refuses nothing as root but warns; capgate never needs root.
RUN useradd --create-home --uid 10001 capgate && mkdir -p /data && chown capgate /data
USER capgate
WORKDIR /data

CMD ["capgate", "--help"]
