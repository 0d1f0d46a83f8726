# syntax=docker/dockerfile:1
# Build: a static, CGO-free binary.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN CGO_ENABLED=0 go build -trimpath \
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
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
  CMD ["/bridge", "healthcheck", "--config", "/data/config.toml"]
ENTRYPOINT ["/bridge"]
CMD ["run", "--config", "/data/config.toml"]
