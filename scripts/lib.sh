# shellcheck shell=bash
# Shared helpers for scripts/services, scripts/run and scripts/test. Source this file, do not run it.

MEETGRAPH_ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
DATA_DIR=$MEETGRAPH_ROOT/.data
LOG_DIR=$DATA_DIR/logs
RUN_DIR=$DATA_DIR/run
SCRIPT_NAME=scripts/${0##*/}

# The official Go tarball installs to /usr/local/go, which is not on Debian's default PATH.
if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
	PATH=$PATH:/usr/local/go/bin
fi

# Print one error line naming the script and exit with status 1.
die() {
	printf '%s: %s\n' "$SCRIPT_NAME" "$*" >&2
	exit 1
}

# Print one progress line for a slow step (an install or a server start).
note() {
	printf '%s: %s\n' "$SCRIPT_NAME" "$*" >&2
}

ensure_dirs() {
	mkdir -p "$LOG_DIR" "$RUN_DIR"
}

# Return 0 when something accepts TCP connections on host:port within 2 seconds.
port_open() {
	# shellcheck disable=SC2016 # $1 and $2 belong to the inner shell.
	timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" >/dev/null 2>&1
}

package_installed() {
	[[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null) == ii* ]]
}

# Install the Debian packages that are missing, running apt-get update first.
# Does no apt work at all when every package is already installed.
ensure_packages() {
	local package
	local -a missing=()
	for package in "$@"; do
		package_installed "$package" || missing+=("$package")
	done
	((${#missing[@]} > 0)) || return 0

	if ((EUID != 0)); then
		die "missing Debian packages: ${missing[*]}; run this script as root or install them with: apt-get install ${missing[*]}"
	fi
	ensure_dirs
	local log=$LOG_DIR/apt.log
	note "installing ${missing[*]} (log: $log)"
	# The lock timeout lets an apt run that is already in progress finish instead of failing at once.
	# Package scripts may start servers, so descriptor 9 (the lock of scripts/services) is closed.
	if ! DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update >>"$log" 2>&1; then
		die "apt-get update failed; see $log"
	fi
	if ! DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends \
		"${missing[@]}" >>"$log" 2>&1 9>&-; then
		die "apt-get install ${missing[*]} failed; see $log"
	fi
}

url_decode() {
	printf '%b' "${1//%/\\x}"
}

# Split a URL of the form scheme://user:password@host:port/path?query into
# URL_SCHEME, URL_USER, URL_PASSWORD, URL_HOST, URL_PORT and URL_PATH.
# User, password and path are percent-decoded. URL_PORT is empty when the URL has no port.
# shellcheck disable=SC2034 # The URL_* variables are read by the scripts that source this file.
url_parse() {
	local url=$1 rest authority userinfo hostport
	URL_SCHEME=${url%%://*}
	rest=${url#*://}
	authority=${rest%%[/?#]*}
	URL_PATH=${rest:${#authority}}
	URL_PATH=${URL_PATH%%[?#]*}
	URL_PATH=$(url_decode "${URL_PATH#/}")

	userinfo=
	hostport=$authority
	if [[ $authority == *@* ]]; then
		userinfo=${authority%@*}
		hostport=${authority##*@}
	fi
	URL_USER=$(url_decode "${userinfo%%:*}")
	URL_PASSWORD=
	if [[ $userinfo == *:* ]]; then
		URL_PASSWORD=$(url_decode "${userinfo#*:}")
	fi

	URL_PORT=
	if [[ $hostport == \[* ]]; then
		URL_HOST=${hostport%%]*}
		URL_HOST=${URL_HOST#[}
		rest=${hostport#*]}
		URL_PORT=${rest#:}
	elif [[ $hostport == *:* ]]; then
		URL_HOST=${hostport%:*}
		URL_PORT=${hostport##*:}
	else
		URL_HOST=$hostport
	fi
}

# Return 0 when the URL names host 127.0.0.1 or localhost and the given port
# (the URL's own port, or default_port when it has none).
url_is_local() {
	local url=$1 expected_port=$2 default_port=$3
	[[ $url == *://* ]] || return 1
	url_parse "$url"
	[[ $URL_HOST == 127.0.0.1 || $URL_HOST == localhost ]] || return 1
	[[ ${URL_PORT:-$default_port} == "$expected_port" ]]
}
