# Builds the guildhall binary and ships it on a slim Debian.
FROM rust:1.95-bookworm AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends cmake && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cargo build --release --bin guildhall

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/guildhall guildhall && mkdir -p /var/lib/guildhall && chown guildhall /var/lib/guildhall
COPY --from=build /src/target/release/guildhall /usr/local/bin/guildhall
USER guildhall
WORKDIR /var/lib/guildhall
ENV AUTH_DATA_DIR=/var/lib/guildhall/data
EXPOSE 8001
ENTRYPOINT ["guildhall"]
CMD ["serve"]
