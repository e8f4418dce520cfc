# syntax=docker/dockerfile:1
# zalo-bridge image: wheels are built in the first stage, the final stage only installs them.
#   docker build -t zalo-bridge:$(python3 -c 'import re;print(re.search(r"\"(.+)\"", open("src/bridge/__init__.py").read())[1])') .
# The same steps run without Docker in `make test` (tests/deploy/test_wheel_smoke.py): build the
# wheel, install it with its pinned dependencies in a fresh virtualenv, start it, wait for ready.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------- build: wheels only
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
# Compilers only here, for any dependency without a wheel for this platform.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md LICENSE constraints.txt ./
COPY src ./src
# bridge's wheel and one wheel per pinned dependency (constraints.txt: the versions the tests ran).
RUN pip wheel --wheel-dir /wheels --no-deps . \
 && pip wheel --wheel-dir /wheels --constraint constraints.txt /wheels/zalo_bridge-*.whl

# ---------------------------------------------------------------- runtime: no compilers, no pip cache
FROM ${PYTHON_IMAGE} AS runtime
# MALLOC_ARENA_MAX=2: glibc's malloc keeps at most two arenas for the process's few threads
# (≈ −10 MB peak RSS in the bench's drain, docs/performance.md "Memory").
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MALLOC_ARENA_MAX=2 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    VIRTUAL_ENV=/opt/zalo-bridge \
    PATH=/opt/zalo-bridge/bin:$PATH
# A fixed numeric uid/gid, so Kubernetes can verify runAsNonRoot.
RUN groupadd --system --gid 10001 bridge \
 && useradd --system --uid 10001 --gid bridge --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin bridge
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m venv "$VIRTUAL_ENV" \
 && "$VIRTUAL_ENV/bin/pip" install --no-index --find-links /wheels zalo-bridge \
 && "$VIRTUAL_ENV/bin/pip" uninstall -y pip
# Writable places are volumes (/tmp, the data directory): the root filesystem can be read-only.
RUN install -d -o bridge -g bridge -m 0750 /var/lib/zalo-bridge
WORKDIR /var/lib/zalo-bridge
USER 10001:10001
EXPOSE 8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["zalo-bridge"]
CMD ["run", "--host", "0.0.0.0", "--port", "8080"]
