# syntax=docker/dockerfile:1.7
# ModelPlane images: one target per component, each with only its extra installed.
#
#   docker build --target operator -t ghcr.io/modelplane/modelplane-operator:0.1.0 .   (or: make image)
#
# | target   | extra      | entrypoint                                   | carries no                          |
# | -------- | ---------- | -------------------------------------------- | ----------------------------------- |
# | operator | [operator] | kopf run -m modelplane.operator.main         | ONNX Runtime, FastAPI, SQLAlchemy   |
# | api      | [api]      | uvicorn --factory modelplane.api.app:create_app (+ migrations) | kopf, ONNX Runtime  |
# | serving  | [serving]  | python -m modelplane.serving                 | kopf, SQLAlchemy, scikit-learn      |
# | jobs     | [jobs]     | python -m modelplane.jobs                    | kopf, FastAPI, SQLAlchemy           |
#
# Every image runs as the unprivileged user 10001:10001 and writes nothing outside /tmp (bytecode is compiled
# at build time, PYTHONDONTWRITEBYTECODE=1), so it runs with readOnlyRootFilesystem: true and an emptyDir on
# /tmp, as the Helm chart and the operator's Job pods do. tests/helm/test_dockerfile.py lints this file (hadolint and a parser).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- the wheel: built once, installed with a different extra by each target -----------------------------------
FROM ${PYTHON_IMAGE} AS wheel
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
COPY services ./services
COPY crds ./crds
RUN python -m pip wheel --no-cache-dir --no-deps --wheel-dir /dist . \
    && test "$(find /dist -name 'modelplane-*.whl' | wc -l)" -eq 1

# --- one virtual environment per component (in /opt/modelplane) ----------------------------------------------
FROM ${PYTHON_IMAGE} AS venv
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/modelplane

FROM venv AS venv-operator
RUN --mount=type=bind,from=wheel,source=/dist,target=/dist \
    /opt/modelplane/bin/pip install "$(find /dist -name 'modelplane-*.whl')[operator]"

FROM venv AS venv-api
RUN --mount=type=bind,from=wheel,source=/dist,target=/dist \
    /opt/modelplane/bin/pip install "$(find /dist -name 'modelplane-*.whl')[api]"

FROM venv AS venv-serving
RUN --mount=type=bind,from=wheel,source=/dist,target=/dist \
    /opt/modelplane/bin/pip install "$(find /dist -name 'modelplane-*.whl')[serving]"

FROM venv AS venv-jobs
RUN --mount=type=bind,from=wheel,source=/dist,target=/dist \
    /opt/modelplane/bin/pip install "$(find /dist -name 'modelplane-*.whl')[jobs]"

# --- the common runtime: non-root, read-only friendly ---------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
RUN groupadd --system --gid 10001 modelplane \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin modelplane
ENV PATH=/opt/modelplane/bin:$PATH \
    VIRTUAL_ENV=/opt/modelplane \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
LABEL org.opencontainers.image.vendor="ModelPlane" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/modelplane/modelplane" \
      org.opencontainers.image.documentation="https://github.com/modelplane/modelplane/tree/main/docs" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
WORKDIR /tmp
USER 10001:10001

# --- component targets ----------------------------------------------------------------------------------------
FROM runtime AS operator
COPY --from=venv-operator /opt/modelplane /opt/modelplane
LABEL org.opencontainers.image.title="modelplane-operator" \
      org.opencontainers.image.description="ModelPlane operator: reconciles Datasets, TrainingRuns, ModelVersions, InferenceServices and Rollouts (kopf)"
EXPOSE 8080 9090
ENTRYPOINT ["kopf", "run", "-m", "modelplane.operator.main"]
CMD ["--all-namespaces", "--liveness=http://0.0.0.0:8080/healthz"]

FROM runtime AS api
COPY --from=venv-api /opt/modelplane /opt/modelplane
LABEL org.opencontainers.image.title="modelplane-api" \
      org.opencontainers.image.description="ModelPlane control plane: runs, metrics, registry, lineage, artifacts (FastAPI). Migrations: python -m modelplane.api.db.migrate upgrade"
ENV MODELPLANE_API_GC_FREEZE=true
EXPOSE 8080
ENTRYPOINT ["uvicorn", "--factory", "modelplane.api.app:create_app"]
CMD ["--host", "0.0.0.0", "--port", "8080", "--no-access-log", "--proxy-headers", "--forwarded-allow-ips", "*"]

FROM runtime AS serving
COPY --from=venv-serving /opt/modelplane /opt/modelplane
LABEL org.opencontainers.image.title="modelplane-serving" \
      org.opencontainers.image.description="ModelPlane model server: ONNX Runtime behind the Open Inference Protocol v2"
EXPOSE 8080
ENTRYPOINT ["python", "-m", "modelplane.serving"]
CMD ["--host", "0.0.0.0", "--port", "8080"]

FROM runtime AS jobs
COPY --from=venv-jobs /opt/modelplane /opt/modelplane
LABEL org.opencontainers.image.title="modelplane-jobs" \
      org.opencontainers.image.description="ModelPlane jobs: dataset ingest (validate, profile, split) and built-in training exported to ONNX"
ENTRYPOINT ["python", "-m", "modelplane.jobs"]
CMD ["--help"]
