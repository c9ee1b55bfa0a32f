#!/usr/bin/env bash
# Starts the action server and the Rasa server (what `make run` runs).
# Development mode, when no widget key is configured: local secrets in var/dev-secrets.env, a
# widget link for a demo account, SUPPORT_ENV=development and a loud banner saying so. A production configuration sets WIDGET_JWT_SECRET or
# WIDGET_JWT_PUBLIC_KEY and IDENTITY_SECRET itself, and nothing is minted.
# Both servers listen on loopback unless RASA_INTERFACE / ACTION_INTERFACE say otherwise;
# production sets RASA_INTERFACE=0.0.0.0 behind its reverse proxy, so that the channels' webhooks
# are reachable. Rasa's HTTP API is on only with RASA_API_JWT_SECRET, for HS256 JWTs; never
# --auth-token, whose ?token= query parameter ends up in access logs.
# The servers run through scripts/quiet.py: no libraries' deprecation warnings, and they stop when
# the terminal closes even if make, which does not pass SIGHUP on, is what the terminal runs. Rasa
# runs as bot/serving.py, `rasa run` without TensorFlow, which this model never uses.
set -euo pipefail
bin=.venv/bin
new_secret() { $bin/python -c 'import secrets; print(secrets.token_urlsafe(32))'; }
if [[ -z "${WIDGET_JWT_SECRET:-}${WIDGET_JWT_PUBLIC_KEY:-}" ]]; then
  mkdir -p var
  if [[ ! -f var/dev-secrets.env ]]; then
    umask 077
    {
      echo "WIDGET_JWT_SECRET=$(new_secret)"
      echo "IDENTITY_SECRET=$(new_secret)"
    } > var/dev-secrets.env
  fi
  # Files minted before the action server had a secret lack it.
  if ! grep -q '^ACTION_SERVER_SECRET=' var/dev-secrets.env; then
    echo "ACTION_SERVER_SECRET=$(new_secret)" >> var/dev-secrets.env
  fi
  set -a; source var/dev-secrets.env; set +a
  # Development relaxes what a local trial cannot provide (bot/deployment.py).
  export SUPPORT_ENV=development
  cat >&2 <<'BANNER'
######################################################################################
#  DEVELOPMENT MODE: no widget key is configured (WIDGET_JWT_SECRET or               #
#  WIDGET_JWT_PUBLIC_KEY), so this server runs on generated development secrets      #
#  (var/dev-secrets.env), mints widget tokens for demo accounts and accepts tokens   #
#  without an audience. Never let users reach it: configure the keys (.env.example). #
######################################################################################
BANNER
  # Two hours: the longest lifetime widget tokens may have (WIDGET_JWT_MAX_HOURS, default 2).
  token=$($bin/python -m bot.channels.widget_auth "${WIDGET_DEMO_ACCOUNT:-demo-alice}" --minutes 120)
  echo "Development mode. Chat widget as ${WIDGET_DEMO_ACCOUNT:-demo-alice}:"
  echo "  http://localhost:${RASA_PORT}/webhooks/widget/chat#token=${token}"
fi
if [[ -z "${IDENTITY_SECRET:-}" ]]; then
  echo "error: IDENTITY_SECRET must be set when the widget key is configured" >&2
  exit 1
fi
rasa_interface="${RASA_INTERFACE:-127.0.0.1}"
api=()
if [[ -n "${RASA_API_JWT_SECRET:-}" ]]; then
  api=(--enable-api --jwt-secret "$RASA_API_JWT_SECRET" --jwt-method HS256)
  case "$rasa_interface" in
    127.* | ::1 | localhost) ;;
    *) echo "warning: Rasa's HTTP API is enabled on $rasa_interface, not on loopback only" >&2 ;;
  esac
fi
# Our own background jobs only: `kill 0` would also stop make, and whatever else shares its group.
trap 'kill $(jobs -p) 2>/dev/null' EXIT
$bin/python -m scripts.quiet bot.action_server --port "${ACTION_PORT}" &
# The demo accounts' state (a lock, a fresh pending transfer) is relative to now: keep it so while
# the servers run. A no-op on a database without them, and with an HTTP wallet backend not run.
if [[ -z "${WALLET_BACKEND_URL:-}" ]]; then
  $bin/python -m bot.wallet.demo_refresh --keep-fresh 300 &
fi
$bin/python -m scripts.quiet bot.serving run --model models/wallet.tar.gz --interface "$rasa_interface" \
  --port "${RASA_PORT}" --credentials credentials.yml --endpoints endpoints.yml "${api[@]}"
