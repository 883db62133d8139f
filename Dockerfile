# The code location's image: Python 3.11, the dependencies locked in uv.lock (no dev group; dagster-k8s for the
# Kubernetes run launcher), the project, a non-root user, and Dagster's gRPC server as the command. The Helm
# chart runs the same image for the code server and for every run pod (deploy/README.md).
#
#   docker build -t REGISTRY/genesys-assets:VERSION .
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 UV_LINK_MODE=copy UV_CACHE_DIR=/tmp/uv-cache
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
COPY genesys_assets ./genesys_assets
COPY scripts/install-image.sh ./scripts/install-image.sh
RUN bash scripts/install-image.sh /app --user dagster && rm -rf /tmp/uv-cache

ENV PATH=/app/.venv/bin:$PATH
USER 10001
EXPOSE 3030
# The chart replaces this with its own `dagster api grpc` line (dagsterApiGrpcArgs in deploy/helm-values.yaml).
CMD ["dagster", "api", "grpc", "-h", "0.0.0.0", "-p", "3030", "-m", "genesys_assets.definitions"]
