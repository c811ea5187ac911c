# syntax=docker/dockerfile:1
# One image per Helios binary, for linux/amd64 and linux/arm64: distroless (glibc, CA certificates, no
# shell), running as the non-root user 65532 with nothing to write (the chart mounts a read-only root).
# The binaries are cross-compiled outside Docker by scripts/build-images.sh into dist/<arch>/, so an
# image build is a copy, the same for both architectures:
#
#   scripts/build-images.sh            # dist/amd64/*, dist/arm64/*, then the images if Docker is here
#   docker buildx build --platform linux/amd64,linux/arm64 --build-arg BINARY=helios-flowd \
#     -t ghcr.io/helios-observability/helios-flowd:0.1.0 .
#
# BINARY: helios-flowd | helios-enricher | helios-targetgen | helios
FROM gcr.io/distroless/cc-debian12:nonroot
ARG TARGETARCH
ARG BINARY
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="${BINARY}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://example.invalid/helios"
COPY --chmod=0555 dist/${TARGETARCH}/${BINARY} /usr/local/bin/helios-entrypoint
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/helios-entrypoint"]
