# PostgreSQL 15 with pg_auto_failover, from Debian's packages: the image of the monitor and the
# data nodes of docker-compose.ha.yml. Runs as the postgres user (PostgreSQL refuses root).
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        postgresql-15 postgresql-15-auto-failover pg-auto-failover-cli \
    && rm -rf /var/lib/apt/lists/*
ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    XDG_CONFIG_HOME=/var/lib/postgresql/.config \
    XDG_DATA_HOME=/var/lib/postgresql/.local/share
USER postgres
WORKDIR /var/lib/postgresql
