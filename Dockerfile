# syntax=docker/dockerfile:1
# Build: a static, CGO-free binary.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The version and commit `bridge version` reports. Left empty, they are read
# from the clone's git history (git describe, git rev-parse), which is in the
# build context; a context without .git gives "dev" and "unknown".
ARG VERSION=
ARG COMMIT=
RUN VERSION="${VERSION:-$(git describe --tags --always 2>/dev/null || echo dev)}" \
 && COMMIT="${COMMIT:-$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)}" \
 && CGO_ENABLED=0 go build -buildvcs=false -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/bridge ./cmd/bridge \
 && mkdir -p /out/data

# Run: distroless static, non-root; CA certificates and time-zone data included.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/bridge /bridge
# /data belongs to nonroot (65532), so that a fresh named volume is writable.
COPY --from=build --chown=65532:65532 /out/data /data
VOLUME ["/data"]
WORKDIR /data
USER nonroot:nonroot
# Every command reads the config named by BRIDGE_CONFIG (unless --config is
# given): set it with -e to use another file.
ENV BRIDGE_CONFIG=/data/config.toml
# Unhealthy means "needs a person": no QQ Music login (waiting for a QR
# scan), relaying paused, Discord or QQ Music unreachable. Docker only marks
# the container; it does not restart it (do not pair this with an
# auto-restarter: a restart cancels the QR code being shown).
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
  CMD ["/bridge", "healthcheck"]
ENTRYPOINT ["/bridge"]
CMD ["run"]
