#!/usr/bin/env bash
# Installs the Debian packages the project needs beyond Python when they are missing:
# chromium (browser tests), a CJK font (Chinese in screenshots and report charts), and the
# PostgreSQL and Redis servers of the production setup (started on loopback by
# scripts/production_stack.py, never as system services).
# Needs root and apt-get to install; says so clearly otherwise.
set -euo pipefail

missing=()
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
[[ -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ]] || missing+=(fonts-noto-cjk)
compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || missing+=(postgresql)
[[ -x /usr/bin/redis-server ]] || missing+=(redis-server)
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ "$(id -u)" -ne 0 ]]; then
  echo "error: missing ${missing[*]}; install as root: apt-get install ${missing[*]}" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null; then
  echo "error: missing ${missing[*]} and apt-get is not available to install them." >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
[[ -x /usr/bin/chromium ]] || { echo "error: installing chromium did not provide /usr/bin/chromium" >&2; exit 1; }
