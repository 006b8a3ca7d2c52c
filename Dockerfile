# syntax=docker/dockerfile:1
# Orderline production image: gunicorn + whitenoise for the web, the same image runs the
# Celery worker and beat (see docker-compose.yml). Configuration comes from the environment
# (.env.example lists every variable).

ARG PYTHON_IMAGE=python:3.11-slim
ARG UV_VERSION=0.13.9

# --- build: the locked runtime dependencies in /opt/venv ---------------------------------
FROM ${PYTHON_IMAGE} AS build
ARG UV_VERSION
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy
RUN pip install "uv==${UV_VERSION}"
WORKDIR /app
COPY pyproject.toml uv.lock ./
# Production dependencies only (no pytest, ruff, playwright).
RUN uv sync --frozen --no-dev --no-install-project

# --- runtime -------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

# WeasyPrint needs Pango (with HarfBuzz and fontconfig) and at least one font family.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 orderline \
    && useradd --system --uid 10001 --gid orderline --home-dir /app --shell /usr/sbin/nologin orderline

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=config.settings \
    DEBUG=false \
    ORDERLINE_VAR_DIR=/app/var \
    MEDIA_ROOT=/data/media \
    PORT=8000

COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# The code stays owned by root (read-only for the app user); only var/ and /data are writable.
COPY . .

# Static files are collected (hashed and compressed by whitenoise) at build time. The values
# below exist only for this step: no key or broker is baked into the image.
RUN SECRET_KEY=collectstatic-only REDIS_URL=redis://build-only:6379/0 \
        python manage.py collectstatic --noinput --verbosity 0 \
    && rm -f var/dev-secret-key \
    && mkdir -p /data/media \
    && chown -R orderline:orderline /app/var /data

USER orderline
VOLUME ["/data/media"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD python -c "import os, sys, urllib.request; r = urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=8); sys.exit(r.status != 200)"

# WEB_CONCURRENCY (gunicorn's own variable) sets the number of web workers.
CMD ["sh", "-c", "exec gunicorn config.wsgi:application --bind 0.0.0.0:${PORT} --access-logfile - --graceful-timeout 20 --timeout 60"]
