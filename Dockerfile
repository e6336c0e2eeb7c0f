# Not built on our machines (no Docker engine there): mirrors scripts/serve's install.
FROM python:3.11-slim

WORKDIR /app
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY static ./static
COPY config ./config
RUN pip install --no-cache-dir .

# The consent log and the generated signing key live here: mount a volume.
VOLUME ["/app/data"]
EXPOSE 8000
ENV GATEWAY_SERVER_HOST=0.0.0.0
CMD ["consent-gateway", "serve", "--config", "config/gateway.toml"]
