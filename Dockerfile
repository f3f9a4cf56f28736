# syntax=docker/dockerfile:1
# spamgeo: one static binary for every role, in an image with nothing else and no root.
#
#   docker build --build-arg VERSION=$(git describe --always --dirty) -t spamgeo .
#   docker run --rm spamgeo --version
#
# deploy/validate checks this file with BuildKit's parser and linter and runs its build command.

FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
ENV GOBIN=/out
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go install -trimpath -ldflags "-s -w -X main.version=${VERSION}" ./cmd/spamgeo
RUN mkdir -p /spool

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
# The trap's spool directory, owned by the user the binary runs as: a volume mounted there
# starts with this owner.
COPY --from=build --chown=65532:65532 /spool /var/spool/spamgeo
COPY --from=build /out/spamgeo /usr/local/bin/spamgeo
USER 65532:65532
# SMTP (the trap; publish it as port 25), the JSON API (serve), and /metrics and /healthz of
# enrich, sink, trap and serve, as deploy/config/spamgeo.yaml sets them.
EXPOSE 2525 9560 9551 9552 9553 9554
ENTRYPOINT ["/usr/local/bin/spamgeo"]
CMD ["--help"]
