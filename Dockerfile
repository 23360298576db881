# The one image every chatfn function runs from: FUNCTION_TARGET and FUNCTION_SOURCE (set by
# each Knative Service in knative/) pick the function; the migration Job runs
# `alembic upgrade head` from the same image. Built and pushed by the release workflow, which
# records the digest in knative/kustomization.yaml.
#
# Runs as uid 65532 with a read-only root filesystem: every .py is compiled at build time and
# PYTHONDONTWRITEBYTECODE stops any write at start. The one writable place it needs is /tmp,
# for Python's tempfile: the Knative Services mount an emptyDir there.

# An exact patch release, not a floating tag: the same Dockerfile builds the same Python.
ARG PYTHON_IMAGE=python:3.11.14-slim-trixie

FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# Hash-checked wheels only (--only-binary): nothing is compiled, so no compiler is needed here
# either, and a package whose hash is not in the lock fails the build.
COPY requirements/ /tmp/requirements/
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-compile --require-hashes --no-deps --only-binary :all: \
        -r /tmp/requirements/runtime.txt \
    && python -m pip install --no-compile --require-hashes --no-deps --only-binary :all: \
        -r /tmp/requirements/build.txt

# The project itself, without dependencies (all of them came from the lock above). The wheel
# is built by the builder's own Python with the locked setuptools, so nothing unhashed is
# fetched for the build either.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src/ src/
RUN python -m pip wheel --no-deps --no-build-isolation --wheel-dir /tmp/wheels . \
    && /opt/venv/bin/pip install --no-compile --no-deps --no-index /tmp/wheels/chatfn-*.whl \
    && python -m compileall -q -j 0 --invalidation-mode unchecked-hash /opt/venv

FROM ${PYTHON_IMAGE}

# The bytecode is precompiled as unchecked-hash (used as it is, whatever the timestamps after
# COPY): a cold start never compiles, and PYTHONDONTWRITEBYTECODE never writes __pycache__.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

COPY --from=builder /opt/venv /opt/venv

# FUNCTION_SOURCE=functions/<name>.py and alembic.ini's script_location resolve from here.
WORKDIR /app
COPY alembic.ini ./
COPY functions/ functions/
COPY migrations/ migrations/
RUN python -m compileall -q -j 0 --invalidation-mode unchecked-hash functions migrations

# Numeric, so Kubernetes can check runAsNonRoot without reading /etc/passwd.
USER 65532:65532
EXPOSE 8080
# chatfn.serve: each function in one process, functions-framework's app under uvicorn.
CMD ["chatfn-function"]
