#!/usr/bin/env bash
# Times a training from scratch: spaCy pipeline build plus `rasa train` with an empty Rasa cache.
set -euo pipefail
RASA_CACHE_DIRECTORY=$(mktemp -d)
export RASA_CACHE_DIRECTORY
trap 'rm -rf "$RASA_CACHE_DIRECTORY"' EXIT
rm -rf models/spacy_zh models/wallet.tar.gz
start=$(date +%s%N)
make --no-print-directory train >/dev/null 2>&1
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
printf 'training from scratch: %d.%d s (target <= 180 s)\n' $((elapsed_ms / 1000)) $((elapsed_ms % 1000 / 100))
