#!/usr/bin/env bash
# Installs Debian's chromium (and a Chinese font, so the console's screenshots are readable) for
# the browser tests when they are missing; needs root and apt-get to install.
set -euo pipefail
browser=/usr/bin/chromium

missing=()
[[ -x "$browser" ]] || missing+=(chromium)
if ! command -v fc-list >/dev/null || [[ -z "$(fc-list :lang=zh 2>/dev/null)" ]]; then
  missing+=(fonts-wqy-zenhei)
fi
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi
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
apt-get install -y -qq "${missing[@]}"
if [[ ! -x "$browser" ]]; then
  echo "error: installing chromium did not provide $browser." >&2
  exit 1
fi
