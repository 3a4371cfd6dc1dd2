# gmg-dbupdate: the database-migration init job as an image.
#   docker build -t gmg-dbupdate .
#   docker run --rm --read-only --tmpfs /tmp --cap-drop ALL \
#     -e DATABASE_URL=postgresql://mediagoblin@db.example:5432/mediagoblin \
#     -e DATABASE_PASSWORD_FILE=/run/secrets/db-password \
#     -v "$PWD/db-password.txt:/run/secrets/db-password:ro" gmg-dbupdate
# The base is a build argument so a mirrored or locally made Debian bookworm image with Python 3.11
# can stand in for the official one (the lock files are resolved for CPython 3.11 on glibc).
ARG BASE_IMAGE=python:3.11-slim-bookworm

# --- build: two virtualenvs filled from the hashed lock files, wheels only ---------------------
FROM ${BASE_IMAGE} AS build
SHELL ["/bin/bash", "-o", "pipefail", "-euc"]
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src

# The sealed legacy runtime (sqlalchemy-migrate on SQLAlchemy 1.4) lives in its own virtualenv.
COPY requirements/legacy.lock requirements/main.lock requirements/
RUN python3 -m venv /opt/gmg/legacy \
    && /opt/gmg/legacy/bin/pip install --require-hashes --only-binary=:all: \
        -r requirements/legacy.lock \
    && /opt/gmg/legacy/bin/pip uninstall --yes pip \
    && python3 -m venv /opt/gmg/venv \
    && /opt/gmg/venv/bin/pip install --require-hashes --only-binary=:all: \
        -r requirements/main.lock

# The engine itself, without dependencies (they all came from main.lock above).
COPY pyproject.toml README.md ./
COPY entrypoint/ entrypoint/
RUN /opt/gmg/venv/bin/pip install --no-deps . \
    && runner="$(/opt/gmg/venv/bin/python -c 'from gmg_dbupdate.legacy import RUNNER; print(RUNNER)')" \
    && install -d "$(dirname "$runner")" \
    && install -m 0644 entrypoint/legacy/*.py "$(dirname "$runner")/" \
    && /opt/gmg/venv/bin/pip uninstall --yes pip setuptools

# The schema bundle at a fixed path, byte-compiled (the root filesystem is read-only at run time).
COPY migrations/ /opt/gmg/migrations/
RUN python3 -m compileall -q --invalidation-mode checked-hash /opt/gmg/migrations

# --- runtime: the base, tini, the two virtualenvs and the bundle; nothing else -----------------
FROM ${BASE_IMAGE}
SHELL ["/bin/bash", "-o", "pipefail", "-euc"]
# tini is PID 1: it forwards SIGTERM to gmg (which rolls back and releases its lock: exit 143) and
# reaps the legacy runtime's child process.
RUN apt-get update \
    && apt-get install --yes --no-install-recommends tini=0.19.0-1+b3 \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log \
    && groupadd --gid 10001 gmg \
    && useradd --uid 10001 --gid 10001 --home-dir /tmp --no-create-home \
        --shell /usr/sbin/nologin gmg \
    && install -d -o 10001 -g 10001 -m 0750 /data

COPY --from=build /opt/gmg /opt/gmg

# The root filesystem may be read-only: nothing is written but /tmp and, for the embedded SQLite
# default (sqlite:///mediagoblin.db, relative to the working dir), /data, where a volume belongs.
ENV PATH=/opt/gmg/venv/bin:${PATH} \
    GMG_MIGRATIONS=/opt/gmg/migrations \
    GMG_LEGACY_PYTHON=/opt/gmg/legacy/bin/python \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
WORKDIR /data
USER 10001:10001
ENTRYPOINT ["/usr/bin/tini", "--", "gmg"]
CMD ["dbupdate"]

# Last, so that a new revision or date does not invalidate the layers above.
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
ARG BASE_IMAGE
LABEL org.opencontainers.image.title="gmg-dbupdate" \
      org.opencontainers.image.description="Database-migration init job: wait, lock, bootstrap or upgrade every Alembic branch head, exit code" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="AGPL-3.0-or-later" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"
