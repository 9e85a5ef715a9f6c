# syntax=docker/dockerfile:1
# Wayhouse: one image for every process of the stack (migrate, provision, ingest, api, ui,
# sim); docker-compose.yml picks the command. `docker build -t wayhouse:local .`
FROM python:3.11-slim

# The runtime user gets uid/gid 1883, the `mosquitto` user of the eclipse-mosquitto images.
# `wayhouse devices sync` writes the broker's password file and ACL mode 0600 into a volume
# that the broker mounts read-only, and Mosquitto reads them (at start and on every SIGHUP)
# as that user; it also warns (and future versions refuse) when the owner or group differ.
# Matching ids is what lets the broker read them without loosening their mode.
ARG WAYHOUSE_UID=1883
ARG WAYHOUSE_GID=1883

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    WAYHOUSE_DATA_DIR=/var/lib/wayhouse

RUN groupadd --gid "${WAYHOUSE_GID}" wayhouse \
    && useradd --uid "${WAYHOUSE_UID}" --gid wayhouse \
        --home-dir /home/wayhouse --create-home --shell /usr/sbin/nologin wayhouse \
    && python -m venv "${VIRTUAL_ENV}"

WORKDIR /app

# Dependencies first (exact pins), so a code change does not reinstall them.
COPY requirements.lock ./
RUN pip install --no-deps -r requirements.lock

# The whole tree, symlinks kept as symlinks: the package is wayhouse/, and wayhouse/edge,
# wayhouse/platform, ... point at ../edge, ../platform, ... (COPY copies links, not targets).
COPY . .
# The data folder and the broker-auth folder inside it exist in the image, owned by the
# runtime user, so the named volumes mounted there start out owned by it (Docker copies the
# ownership of the image's directory into an empty named volume).
RUN pip install --no-deps -e . \
    && pip check \
    && python -m compileall -q wayhouse \
    && wayhouse --help > /dev/null \
    && install -d -o wayhouse -g wayhouse -m 0750 \
        "${WAYHOUSE_DATA_DIR}" "${WAYHOUSE_DATA_DIR}/mosquitto"

# The code stays root-owned and read-only for the runtime user.
USER wayhouse:wayhouse

ENTRYPOINT ["wayhouse"]
CMD ["--help"]
