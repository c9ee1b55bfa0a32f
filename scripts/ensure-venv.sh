#!/usr/bin/env bash
# Creates the virtualenv with Python 3.10 (Rasa 3.6 does not support 3.11), or checks the one there.
set -euo pipefail
venv=${1:-.venv}
want=$(cut -d. -f1,2 < .python-version)

version_of() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true; }

if [[ -x "$venv/bin/python" && "$(version_of "$venv/bin/python")" == "$want" ]]; then
  exit 0
fi
for candidate in "$(command -v pyenv >/dev/null && pyenv which python 2>/dev/null || true)" \
                 "$(command -v "python$want" || true)" "$(command -v python3 || true)"; do
  if [[ -n "$candidate" && "$(version_of "$candidate")" == "$want" ]]; then
    rm -rf "$venv"
    "$candidate" -m venv "$venv"
    "$venv/bin/pip" install --quiet --upgrade "pip==24.0"
    exit 0
  fi
done
echo "error: Python $want is needed (see .python-version); install it, e.g. 'pyenv install $want'." >&2
exit 1
