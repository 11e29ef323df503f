# syntax=docker/dockerfile:1
#
# One multi-stage build for the whole stack. Pick an image with --target:
#
#   docker build --target identity-service -t scim/identity-service .
#   docker build --target auth-service     -t scim/auth-service .
#   docker build --target scim-gateway     -t scim/scim-gateway .
#
# docker-compose.yml builds all three. The builder compiles every binary in one
# cargo invocation, so the three targets share a single compilation.

# Keep in step with rust-toolchain.toml (scripts/check-compose verifies it).
ARG RUST_VERSION=1.95.0
# Builder and runtime must use the same Debian release: the binaries link against
# its glibc.
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS builder
ARG RUST_VERSION
# Use the image's toolchain as is. rust-toolchain.toml also asks for rustfmt and
# clippy, which a release build does not need and rustup would otherwise download.
ENV RUSTUP_TOOLCHAIN=${RUST_VERSION} \
    CARGO_TERM_COLOR=never
WORKDIR /src
# No protoc (the proto crate compiles .proto files with protox) and no system
# SQLite (libsqlite3-sys is built with `bundled`, mimalloc from its C sources); the
# one system library is libpq, which diesel's PostgreSQL backend links. Debian's
# package of the release, unpinned: the release pins it.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq-dev \
    && rm -rf /var/lib/apt/lists/*
COPY . .
# The cargo registry and target directory are cache mounts so that a rebuild after
# a source change recompiles only our crates; the binaries are copied out of the
# cache mount because its contents do not end up in the image layer.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked \
        -p identity-service -p auth-service -p scim-gateway -p scimctl \
    && mkdir -p /out \
    && cp target/release/identity-service target/release/auth-service \
          target/release/scim-gateway target/release/scimctl /out/

# Shared runtime: an unprivileged user with a fixed uid, so that files on shared
# volumes (the operator credentials) keep one owner whichever image wrote them,
# and the operator CLI for `docker compose exec`.
FROM debian:${DEBIAN_RELEASE}-slim AS runtime
# libpq: the services (and scimctl db copy) talk to PostgreSQL through it.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq5 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 scim \
    && useradd --system --uid 10001 --gid scim --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin scim \
    && install -d -o scim -g scim -m 0750 /data
COPY --from=builder /out/scimctl /usr/local/bin/scimctl
WORKDIR /data

# Health checks need no extra binary: bash (part of debian-slim) opens a TCP
# connection through /dev/tcp. For the gRPC services an accepted connection on the
# listen port is the probe; the gateway's probe goes through its /readyz, which
# also checks that both upstream services answer. The port is taken from the
# listen variable so that an overridden address keeps the probe right.

FROM runtime AS identity-service
COPY --from=builder /out/identity-service /usr/local/bin/identity-service
ENV IDENTITY_LISTEN=0.0.0.0:50051 \
    IDENTITY_DATABASE_URL=sqlite:///data/identity.db \
    LOG_FORMAT=json
USER 10001:10001
VOLUME ["/data"]
EXPOSE 50051
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${IDENTITY_LISTEN##*:}"]
ENTRYPOINT ["/usr/local/bin/identity-service"]

FROM runtime AS auth-service
COPY --from=builder /out/auth-service /usr/local/bin/auth-service
# The operator credentials get their own directory (and, in compose, their own
# volume) so they can be backed up, mounted or wiped apart from the database.
RUN install -d -o scim -g scim -m 0700 /operator
ENV AUTH_LISTEN=0.0.0.0:50052 \
    AUTH_DATABASE_URL=sqlite:///data/auth.db \
    AUTH_BOOTSTRAP_ADMIN_FILE=/operator/operator.json \
    LOG_FORMAT=json
USER 10001:10001
VOLUME ["/data", "/operator"]
EXPOSE 50052
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${AUTH_LISTEN##*:}"]
ENTRYPOINT ["/usr/local/bin/auth-service"]

FROM runtime AS scim-gateway
COPY --from=builder /out/scim-gateway /usr/local/bin/scim-gateway
ENV GATEWAY_LISTEN=0.0.0.0:8080 \
    LOG_FORMAT=json
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${GATEWAY_LISTEN##*:} && printf 'GET /readyz HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3 && read -r -t 2 _ code _ <&3 && [ \"$code\" = 200 ]"]
ENTRYPOINT ["/usr/local/bin/scim-gateway"]
