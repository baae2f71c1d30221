# guildhall in a small image: built in a full Rust image, shipped on distroless (glibc, CA
# certificates, no shell, no package manager) as an unprivileged user. The image has no curl: its
# HEALTHCHECK is `guildhall healthcheck` (GET /healthz on 127.0.0.1:$AUTH_PORT, exit 0 or 1).
FROM rust:1.95-bookworm AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends cmake && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cargo build --release --locked --bin guildhall \
    && strip target/release/guildhall \
    && mkdir -p /out/data

FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
COPY --from=build /src/target/release/guildhall /usr/local/bin/guildhall
COPY --from=build --chown=65532:65532 /out/data /var/lib/guildhall/data
USER 65532:65532
WORKDIR /var/lib/guildhall
ENV AUTH_DATA_DIR=/var/lib/guildhall/data \
    AUTH_HOST=0.0.0.0 \
    AUTH_PORT=8001
EXPOSE 8001
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["guildhall", "healthcheck"]
ENTRYPOINT ["guildhall"]
CMD ["serve"]
