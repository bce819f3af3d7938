#!/usr/bin/env bash
# testbed/arm64.sh: a Debian arm64 root that runs under qemu-user on an x86_64 host, so
# aidoctor's tests see a real aarch64 userland (uname, glibc, Python, pip wheel tags).
#
# Usage (as root):
#   testbed/arm64.sh [setup]     build the root once, register binfmt every time (idempotent)
#   testbed/arm64.sh check       exit 0 when the bed is ready: binfmt registered and root complete
#   testbed/arm64.sh run [--bind HOSTDIR:CHROOTDIR]... -- CMD ARGS...
#                                run CMD in the root with a clean environment
#
# Needs: apt-get install qemu-user-static debootstrap (see .ci/run).
# Environment: AIDOCTOR_ARM64_ROOT (default /var/cache/aidoctor/arm64-root),
#   AIDOCTOR_ARM64_SUITE and AIDOCTOR_ARM64_MIRROR (default: the host's Debian suite and mirror).
#
# Timings on a 2-core x86_64 Debian 12 VM, bookworm from deb.debian.org, qemu 7.2:
#   setup from scratch: 1m50s idle; 2m40s-3m15s with other jobs on the cores (debootstrap
#     --variant=minbase, whose second stage runs under qemu; the root is about 320 MB)
#   setup when ready: 0.2s;  `run -- python3 --version`: 0.03s (qemu starts fast; heavy work is slow)
set -euo pipefail

ROOT="${AIDOCTOR_ARM64_ROOT:-/var/cache/aidoctor/arm64-root}"
MARKER="$ROOT/.aidoctor-arm64-ready"   # written last: a root without it is incomplete
BINFMT_DIR=/proc/sys/fs/binfmt_misc
BINFMT_ENTRY="$BINFMT_DIR/qemu-aarch64"
BINFMT_CONF=/usr/lib/binfmt.d/qemu-aarch64.conf
HOST_CA=/etc/ssl/certs/ca-certificates.crt
# The host's bundle may hold a CA the root's own bundle lacks (an egress proxy's).
CHROOT_CA=/etc/ssl/certs/aidoctor-host-ca.crt
PACKAGES=python3,python3-venv,python3-pip,ca-certificates
SELF=$(readlink -f "${BASH_SOURCE[0]}")
# shellcheck source=testbed/debian.sh
. "$(dirname "$SELF")/debian.sh"

log() { echo "arm64-testbed: $*" >&2; }
die() { log "error: $*"; exit 1; }

require_host_tools() {
    [[ $EUID -eq 0 ]] || die "run as root (debootstrap, mount and chroot need it)"
    if [[ ! -f $BINFMT_CONF ]] || ! command -v debootstrap >/dev/null; then
        die "missing tools: apt-get install -y qemu-user-static debootstrap"
    fi
}

# Registered, enabled, and with the F flag: the kernel opens qemu at registration,
# so the interpreter need not exist inside the chroot.
binfmt_registered() {
    [[ -f $BINFMT_ENTRY ]] && grep -qx enabled "$BINFMT_ENTRY" &&
        grep -q '^flags: .*F' "$BINFMT_ENTRY"
}

# Every time: registrations do not survive a reboot.
ensure_binfmt() {
    [[ -f $BINFMT_DIR/register ]] || mount -t binfmt_misc binfmt_misc "$BINFMT_DIR"
    binfmt_registered && return
    # An entry without F (or disabled) would fail inside the chroot: replace it.
    [[ -f $BINFMT_ENTRY ]] && echo -1 > "$BINFMT_ENTRY"
    grep -m1 '^:' "$BINFMT_CONF" > "$BINFMT_DIR/register"
    log "registered qemu-aarch64 with binfmt_misc"
}

# A killed debootstrap can leave proc/sys mounted inside the root: unmount deepest first.
unmount_inside_root() {
    awk -v root="$ROOT/" 'index($2, root) == 1 {print $2}' /proc/self/mounts |
        sort -r | xargs -r -n1 umount -l
}

build_root() {
    local suite mirror
    suite="${AIDOCTOR_ARM64_SUITE:-$(host_suite)}"
    mirror="${AIDOCTOR_ARM64_MIRROR:-$(host_mirror)}"
    if [[ -e $ROOT ]]; then
        log "removing the incomplete root at $ROOT"
        unmount_inside_root
        rm -rf --one-file-system "$ROOT"
    fi
    log "debootstrap arm64 $suite from $mirror into $ROOT (several minutes under qemu)"
    mkdir -p "$(dirname "$ROOT")"
    debootstrap --arch=arm64 --variant=minbase --include="$PACKAGES" "$suite" "$ROOT" "$mirror"
    touch "$MARKER"
}

cmd_setup() {
    require_host_tools
    ensure_binfmt
    if [[ -f $MARKER ]]; then
        log "root ready at $ROOT"
    else
        build_root
    fi
    log "chroot python reports $(cmd_run -- python3 -c 'import platform; print(platform.machine())')"
}

# Ready means `run` would work: running as root, the host tools, binfmt and a complete arm64 root.
cmd_check() {
    require_host_tools
    binfmt_registered || { log "qemu-aarch64 is not registered: run testbed/arm64.sh setup"; return 1; }
    [[ -f $MARKER ]] || { log "no complete root at $ROOT: run testbed/arm64.sh setup"; return 1; }
    log "ready: $ROOT"
}

# The mounts are made in a private mount namespace (unshare): the kernel drops them
# when CMD exits, whatever the exit, and concurrent runs do not see each other's.
cmd_run() {
    require_host_tools
    ensure_binfmt
    [[ -f $MARKER ]] || die "no complete root at $ROOT: run testbed/arm64.sh setup"
    cp "$HOST_CA" "$ROOT$CHROOT_CA"
    exec unshare --mount --propagation private -- bash "$SELF" _run_in_namespace "$@"
}

bind_into_root() {
    local host_dir=${1%%:*} chroot_dir=${1#*:}
    [[ $1 == *:/* && -d $host_dir ]] || die "--bind wants HOSTDIR:/CHROOTDIR with an existing HOSTDIR, got '$1'"
    mkdir -p "$ROOT$chroot_dir"
    mount --bind "$host_dir" "$ROOT$chroot_dir"
}

run_in_namespace() {
    mount -t proc proc "$ROOT/proc"
    mount -t sysfs sysfs "$ROOT/sys"
    mount --bind /dev "$ROOT/dev"
    while [[ $# -gt 0 && $1 != -- ]]; do
        [[ $1 == --bind && $# -ge 2 ]] || die "usage: run [--bind HOSTDIR:CHROOTDIR]... -- CMD ARGS..."
        bind_into_root "$2"
        shift 2
    done
    [[ $# -ge 2 ]] || die "usage: run [--bind HOSTDIR:CHROOTDIR]... -- CMD ARGS..."
    shift
    exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
        LANG=C.UTF-8 PIP_CERT="$CHROOT_CA" REQUESTS_CA_BUNDLE="$CHROOT_CA" SSL_CERT_FILE="$CHROOT_CA" \
        chroot "$ROOT" "$@"
}

main() {
    local command=${1:-setup}
    [[ $# -gt 0 ]] && shift
    case $command in
        setup) cmd_setup ;;
        check) cmd_check ;;
        run) cmd_run "$@" ;;
        _run_in_namespace) run_in_namespace "$@" ;;
        *) die "unknown command '$command' (setup, check, run)" ;;
    esac
}

main "$@"
