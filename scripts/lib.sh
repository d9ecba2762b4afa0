# Shared helpers for scripts/*. Source it; do not run it.
set -euo pipefail

NIGHTSHIFT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# ensure_packages PKG...: installs the Debian packages that are missing (and only those).
ensure_packages() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "==> installing Debian packages: ${missing[*]}"
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# The packages NightShift needs to build and run, and the real tools its tests use.
BUILD_PACKAGES=(libpq-dev libarchive-dev libgpgme-dev libssl-dev libcurl4-openssl-dev libxlsxwriter-dev pkg-config)
RUN_PACKAGES=(postgresql gnupg)
TEST_PACKAGES=(unzip libarchive-tools python3 python3-aiosmtpd python3-prometheus-client python3-openpyxl openssl curl chromium chromium-driver python3-selenium fonts-noto-cjk openssh-server)

ensure_swift() {
    if ! command -v swift >/dev/null 2>&1; then
        [ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
    fi
    command -v swift >/dev/null 2>&1 || { echo "error: swift is not installed (expected on PATH or in /opt/swift)" >&2; exit 1; }
}

# People log in as their operating-system account (peer authentication on the socket): give the
# account running this script its own role in the cluster at URL, as an administrator would give
# a manager theirs (`run --once` checks who starts work as that login).
allow_person_login() {
    psql "$1" -qv ON_ERROR_STOP=1 -v me="$(id -un)" >/dev/null <<'SQL'
SELECT 'CREATE ROLE nightshift_requester NOLOGIN' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'nightshift_requester') \gexec
SELECT format('CREATE ROLE %I LOGIN', :'me') WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'me') \gexec
SELECT format('GRANT nightshift_requester TO %I', :'me') \gexec
SQL
}
