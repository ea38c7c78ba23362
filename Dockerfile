# syntax=docker/dockerfile:1
# The licensing service as a small static image: `docker compose up` runs it
# beside PostgreSQL (see docker-compose.yml). Build alone with
#   docker build -t licensing .

# Build the server and the admin CLI as static binaries.
FROM golang:1.26 AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-trimpath
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -ldflags='-s -w' -o /out/ ./cmd/licensingd ./cmd/licensectl

# Run as an unprivileged user on an image with no shell and no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
USER nonroot:nonroot
WORKDIR /home/nonroot
ENV LICENSING_ADDR=:8080 \
    LICENSING_DATA_DIR=/home/nonroot/.data
EXPOSE 8080
# No shell or curl here: licensingd asks its own /readyz.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/licensingd", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/licensingd"]
CMD ["serve"]
