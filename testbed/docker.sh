#!/usr/bin/env bash
# testbed/docker.sh: a local Docker engine and two Debian images for `aidoctor fleet collect --image/--container`
# (tests/integration/test_fleet_docker.py): aidoctor-testbed:amd64 (native) and aidoctor-testbed:arm64, which runs under
# qemu-user through the binfmt_misc entry testbed/arm64.sh registers (flag F, so containers need no qemu inside).
# No registry is needed: both images are imported from debootstrapped roots.
#
# Usage (as root, on an x86_64 host):
#   testbed/docker.sh [images]   engine, then build each image that is missing or older than its root (idempotent)
#   testbed/docker.sh engine     make sure a Docker engine answers; start dockerd in the background if none does
#   testbed/docker.sh check      exit 0 when the engine answers and both images exist
#
# Needs: apt-get install docker.io debootstrap qemu-user-static (see .ci/run).
# Environment: AIDOCTOR_AMD64_ROOT (default /var/cache/aidoctor/amd64-root), AIDOCTOR_AMD64_SUITE and
#   AIDOCTOR_AMD64_MIRROR (default: the host's Debian suite and mirror); AIDOCTOR_ARM64_ROOT as for arm64.sh;
#   AIDOCTOR_DOCKERD_LOG (default /var/log/aidoctor-dockerd.log).
#
# Timings on a 2-core x86_64 Debian 12 VM, Docker 20.10 (overlay2), qemu 7.2, bookworm from deb.debian.org:
#   images from scratch, arm64 root already set up: 43s (amd64 debootstrap about 35s, both imports 5s, checks 1s;
#     a missing arm64 root adds arm64.sh's setup, 2-3 min)
#   images with both roots present but no images: 5s;  images when ready: 0.9s idle, 1.3-1.7s with other jobs
#   on the cores;  check, engine: 0.03s
set -euo pipefail

AMD64_ROOT="${AIDOCTOR_AMD64_ROOT:-/var/cache/aidoctor/amd64-root}"
AMD64_MARKER="$AMD64_ROOT/.aidoctor-amd64-ready"   # written last: a root without it is incomplete
ARM64_ROOT="${AIDOCTOR_ARM64_ROOT:-/var/cache/aidoctor/arm64-root}"
ARM64_MARKER="$ARM64_ROOT/.aidoctor-arm64-ready"   # arm64.sh's own marker
DOCKERD_LOG="${AIDOCTOR_DOCKERD_LOG:-/var/log/aidoctor-dockerd.log}"
AMD64_PACKAGES=python3,ca-certificates
IMAGE=aidoctor-testbed
# The root's marker time the image was imported from: a rebuilt root has a newer marker, so a new image.
ROOT_LABEL=org.aidoctor.testbed.root-ready
HERE=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
# shellcheck source=testbed/debian.sh
. "$HERE/debian.sh"

log() { echo "docker-testbed: $*" >&2; }
die() { log "error: $*"; exit 1; }

engine_answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

cmd_engine() {
    command -v docker >/dev/null || die "missing tools: apt-get install -y docker.io"
    engine_answers && return
    # Starting a local dockerd cannot help a client pointed at another engine.
    if [[ -n ${DOCKER_HOST:-} && $DOCKER_HOST != unix:///var/run/docker.sock ]]; then
        die "the Docker engine at DOCKER_HOST=$DOCKER_HOST does not answer"
    fi
    [[ $EUID -eq 0 ]] || die "no Docker engine answers and starting dockerd needs root"
    command -v dockerd >/dev/null || die "missing tools: apt-get install -y docker.io"
    log "starting dockerd (log: $DOCKERD_LOG)"
    mkdir -p "$(dirname "$DOCKERD_LOG")"
    # setsid: the engine outlives this script and its terminal; bash does not hang up background jobs on exit.
    setsid dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
    local pid=$! waited=0
    until engine_answers; do
        kill -0 "$pid" 2>/dev/null || die "dockerd exited; the end of $DOCKERD_LOG:
$(tail -n 20 "$DOCKERD_LOG")"
        ((waited++ < 120)) || die "dockerd did not answer within 60 s; the end of $DOCKERD_LOG:
$(tail -n 20 "$DOCKERD_LOG")"
        sleep 0.5
    done
    log "dockerd $(docker version --format '{{.Server.Version}}') answers (pid $pid)"
}

# No chroot ever runs in this root (docker does), so nothing can be left mounted inside it.
build_amd64_root() {
    local suite mirror
    [[ $(uname -m) == x86_64 ]] || die "the amd64 root is debootstrapped natively: run this on an x86_64 host"
    command -v debootstrap >/dev/null || die "missing tools: apt-get install -y debootstrap"
    suite="${AIDOCTOR_AMD64_SUITE:-$(host_suite)}"
    mirror="${AIDOCTOR_AMD64_MIRROR:-$(host_mirror)}"
    if [[ -e $AMD64_ROOT ]]; then
        log "removing the incomplete root at $AMD64_ROOT"
        rm -rf --one-file-system "$AMD64_ROOT"
    fi
    log "debootstrap amd64 $suite from $mirror into $AMD64_ROOT (under a minute)"
    mkdir -p "$(dirname "$AMD64_ROOT")"
    debootstrap --arch=amd64 --variant=minbase --include="$AMD64_PACKAGES" "$suite" "$AMD64_ROOT" "$mirror"
    touch "$AMD64_MARKER"
}

marker_time() { stat -c %.9Y "$1"; }

image_root_time() {
    docker image inspect --format "{{index .Config.Labels \"$ROOT_LABEL\"}}" "$1" 2>/dev/null || true
}

image_current() {   # IMAGE MARKER
    [[ -f $2 && $(image_root_time "$1") == "$(marker_time "$2")" ]]
}

# Engines before 23.0 record the host's architecture whatever --platform says (moby/moby#42813); the userland
# is what aidoctor sees, and `verify` checks it.
import_root() {   # ARCH ROOT MARKER
    local arch=$1 root=$2 marker=$3 image=$IMAGE:$1 old
    image_current "$image" "$marker" && return
    old=$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
    log "importing $root as $image"
    tar -C "$root" --one-file-system --exclude='./tmp/*' --exclude='./root/*' --exclude='./proc/*' \
        --exclude='./sys/*' --exclude='./dev/*' -c . |
        docker import --platform "linux/$arch" --change "LABEL $ROOT_LABEL=$(marker_time "$marker")" - "$image" \
        >/dev/null
    # The replaced image is untagged now; a container still using it keeps it (and the error is beside the point).
    [[ -z $old ]] || docker image rm "$old" >/dev/null 2>&1 || true
}

verify() {   # ARCH EXPECTED_MACHINE
    local machine
    machine=$(docker run --rm "$IMAGE:$1" python3 -c 'import platform; print(platform.machine())') ||
        die "$IMAGE:$1 does not run python3"
    [[ $machine == "$2" ]] || die "$IMAGE:$1 runs a $machine python3, not $2"
    log "$IMAGE:$1 python3 reports $machine"
}

cmd_images() {
    cmd_engine
    [[ -f $AMD64_MARKER ]] || build_amd64_root
    bash "$HERE/arm64.sh" setup
    import_root amd64 "$AMD64_ROOT" "$AMD64_MARKER"
    import_root arm64 "$ARM64_ROOT" "$ARM64_MARKER"
    # In parallel: each docker run costs about half a second, most of the time when nothing was built.
    verify amd64 x86_64 &
    local amd64=$!
    verify arm64 aarch64
    wait "$amd64"
}

# What the tests need; `images` alone also rebuilds an image whose root is newer.
cmd_check() {
    engine_answers || { log "no Docker engine answers: run testbed/docker.sh engine"; return 1; }
    local arch
    for arch in amd64 arm64; do
        docker image inspect "$IMAGE:$arch" >/dev/null 2>&1 ||
            { log "no image $IMAGE:$arch: run testbed/docker.sh images"; return 1; }
    done
    log "ready: $IMAGE:amd64 and $IMAGE:arm64"
}

main() {
    local command=${1:-images}
    case $command in
        images) cmd_images ;;
        engine) cmd_engine ;;
        check) cmd_check ;;
        *) die "unknown command '$command' (images, engine, check)" ;;
    esac
}

main "$@"
