# testbed/debian.sh: what the test beds share; sourced by arm64.sh and docker.sh.

# The host's Debian suite, so the beds match the host; bookworm elsewhere.
host_suite() {
    # shellcheck disable=SC1091
    ( . /etc/os-release; [[ ${ID:-} == debian && -n ${VERSION_CODENAME:-} ]] &&
        echo "$VERSION_CODENAME" || echo bookworm )
}

# The first Debian archive URI in the host's apt sources (deb822 or one-line format).
host_mirror() {
    local uri
    uri=$( { grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | cut -d' ' -f2-
             grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
                 sed -E 's/\[[^]]*\]//' | awk '{print $2}'; } |
           tr ' ' '\n' | grep -m1 -E '/debian/?$' || true)
    echo "${uri:-http://deb.debian.org/debian}"
}
