# syntax=docker/dockerfile:1
# Multi-stage build: compile in the full Rust image, run from a small Debian image as non-root.

FROM rust:1-bookworm AS build
WORKDIR /src
# Build dependencies first so that source edits do not rebuild them. The stub needs only
# src/main.rs and src/lib.rs: Cargo.toml declares no other target (examples/, tests/ and
# benches/ are discovered, and not built by `cargo build`). Swagger UI comes from the crate
# registry (utoipa-swagger-ui's `vendored` feature): the build downloads nothing else.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src && echo 'fn main() {}' > src/main.rs && echo '' > src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src
COPY src ./src
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin aggregator

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/aggregator --create-home aggregator \
    && install -d -o aggregator -g aggregator -m 0700 /etc/aggregator/keys
COPY --from=build /src/target/release/aggregator /usr/local/bin/aggregator
USER aggregator
WORKDIR /var/lib/aggregator
# Serving 0.0.0.0 needs API keys: mount a directory holding keys.toml (made with `aggregator keys
# add`; it holds only digests) at /etc/aggregator/keys, or the server refuses to start and says
# so. The directory belongs to the image's user, so a new named volume mounted there does too
# and a one-shot `aggregator keys add --if-absent` can make the keys in it (docker-compose.yml). `AGG_KEYS_FILE=` (empty) with `AGG_ALLOW_UNAUTHENTICATED=true` serves without keys.
# /health and /ready stay open, so the health check below needs no key.
ENV AGG_BIND=0.0.0.0:8080 \
    AGG_DATA_DIR=/var/lib/aggregator/data \
    AGG_KEYS_FILE=/etc/aggregator/keys/keys.toml \
    AGG_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=5 \
    CMD curl -fsS http://127.0.0.1:8080/ready || exit 1
ENTRYPOINT ["aggregator"]
CMD ["serve"]
