# Switchboard coordinator image.
#
#   docker build -t switchboard .                        # minimal image (target "runtime", the default)
#   docker build -t switchboard:debug --target debug .   # same, plus busybox (sh, wget) and a HEALTHCHECK
#
# The final image is distroless "static" (CA certificates, tzdata, /etc/passwd
# with the nonroot user, no shell, no package manager) holding one static
# binary. It runs as uid/gid 65532 and keeps its state (SQLite) in the volume
# /var/lib/switchboard. It serves plain HTTP on :8080; put a TLS-terminating
# reverse proxy in front (see deploy/reverse-proxy/).
#
# Health check: the runtime image has no HTTP client and the coordinator has
# no health-check subcommand, so the default target carries no HEALTHCHECK.
# Probe GET /healthz (200, empty body) from outside instead: a Kubernetes
# httpGet probe, the reverse proxy, or the "debug" target below, whose busybox
# wget makes a Docker HEALTHCHECK possible.
#
# Written for both BuildKit and the classic builder (docker-compose 1.x), so it
# uses no RUN --mount cache mounts and no syntax directive.

ARG GO_IMAGE=golang:1.26-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot
ARG DEBUG_IMAGE=gcr.io/distroless/static-debian12:debug-nonroot

# ---------------------------------------------------------------- build
FROM ${GO_IMAGE} AS build
WORKDIR /src

# Modules first, so this layer is reused while only our sources change.
COPY go.mod go.sum ./
RUN go mod download && go mod verify

COPY . .
# goolm: the pure-Go Olm implementation, so the binary needs no libolm / cgo.
RUN CGO_ENABLED=0 go build -tags goolm -trimpath -ldflags='-s -w' -o /coordinator ./cmd/coordinator \
 && /coordinator version

# Files for the final image, prepared here because it has no shell:
#  - nsswitch.conf "hosts: files dns", so Go's resolver consults /etc/hosts
#    first (Docker/Kubernetes host aliases), as lk-jwt-service's image does;
#  - the data directory, to be owned by the unprivileged user.
RUN mkdir -p /rootfs/etc /rootfs/var/lib/switchboard \
 && printf 'hosts: files dns\n' >/rootfs/etc/nsswitch.conf

# ---------------------------------------------------------------- debug
# Like "runtime" below, on the distroless debug base (busybox in /busybox).
# busybox wget lets Docker run a HEALTHCHECK. The probe uses port 8080: if you
# change http.bind / LIVEKIT_JWT_BIND, override the health check as well.
FROM ${DEBUG_IMAGE} AS debug
COPY --from=build /rootfs/etc/nsswitch.conf /etc/nsswitch.conf
COPY --from=build --chown=65532:65532 /rootfs/var/lib/switchboard /var/lib/switchboard
COPY --from=build /coordinator /coordinator
USER 65532:65532
VOLUME ["/var/lib/switchboard"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/busybox/wget", "-q", "-Y", "off", "-T", "3", "-O", "/dev/null", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/coordinator"]
CMD ["serve"]

# ---------------------------------------------------------------- runtime (default)
FROM ${RUNTIME_IMAGE} AS runtime
COPY --from=build /rootfs/etc/nsswitch.conf /etc/nsswitch.conf
COPY --from=build --chown=65532:65532 /rootfs/var/lib/switchboard /var/lib/switchboard
COPY --from=build /coordinator /coordinator
USER 65532:65532
VOLUME ["/var/lib/switchboard"]
EXPOSE 8080
ENTRYPOINT ["/coordinator"]
CMD ["serve"]
