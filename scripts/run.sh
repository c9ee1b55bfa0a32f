#!/usr/bin/env bash
# Starts the action server and the Rasa server (what `make run` runs).
# Development mode, when no widget key is configured: local secrets in var/dev-secrets.env and a
# widget link for a demo account. A production configuration sets WIDGET_JWT_SECRET or
# WIDGET_JWT_PUBLIC_KEY and IDENTITY_SECRET itself, and nothing is minted.
set -euo pipefail
bin=.venv/bin
if [[ -z "${WIDGET_JWT_SECRET:-}${WIDGET_JWT_PUBLIC_KEY:-}" ]]; then
  mkdir -p var
  if [[ ! -f var/dev-secrets.env ]]; then
    umask 077
    {
      echo "WIDGET_JWT_SECRET=$($bin/python -c 'import secrets; print(secrets.token_urlsafe(32))')"
      echo "IDENTITY_SECRET=$($bin/python -c 'import secrets; print(secrets.token_urlsafe(32))')"
    } > var/dev-secrets.env
  fi
  set -a; source var/dev-secrets.env; set +a
  token=$($bin/python -m bot.channels.widget_auth "${WIDGET_DEMO_ACCOUNT:-demo-alice}" --minutes 720)
  echo "Development mode. Chat widget as ${WIDGET_DEMO_ACCOUNT:-demo-alice}:"
  echo "  http://localhost:${RASA_PORT}/webhooks/widget/chat#token=${token}"
fi
if [[ -z "${IDENTITY_SECRET:-}" ]]; then
  echo "error: IDENTITY_SECRET must be set when the widget key is configured" >&2
  exit 1
fi
trap 'kill 0' EXIT
$bin/rasa run actions --port "${ACTION_PORT}" --actions actions &
$bin/rasa run --model models/wallet.tar.gz --port "${RASA_PORT}" \
  --credentials credentials.yml --endpoints endpoints.yml
