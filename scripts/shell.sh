#!/usr/bin/env bash
# Chat with the assistant in this terminal (what `make shell` runs). The shell has an action server
# of its own, which treats the terminal user as SHELL_ACCOUNT (a demo account): so it listens on
# loopback whatever ACTION_INTERFACE says, and behind a secret of this session unless one is set.
# Rasa runs without TensorFlow (bot/serving.py); libraries' deprecation warnings are hidden
# (scripts/quiet.py), Rasa logs warnings and errors only
# and the action server logs to SHELL_ACTIONS_LOG. Both servers stop with the shell: /stop, closing
# the terminal, SIGHUP or SIGTERM.
set -euo pipefail
bin=.venv/bin
account="${SHELL_ACCOUNT:-demo-alice}"
log="${SHELL_ACTIONS_LOG:-var/shell-actions.log}"
if [[ -z "${ACTION_SERVER_SECRET:-}" ]]; then
  ACTION_SERVER_SECRET=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
  export ACTION_SERVER_SECRET
fi
mkdir -p "$(dirname "$log")"
echo "IM wallet support, as demo account $account: loading the model..."
# Our own background jobs only: `kill 0` would also stop make, which then reports "Terminated".
trap 'kill $(jobs -p) 2>/dev/null' EXIT
ACTION_INTERFACE=127.0.0.1 DEV_ACCOUNT_ID="$account" \
  $bin/python -m scripts.quiet bot.action_server --port "${ACTION_PORT}" >"$log" 2>&1 &
$bin/python -m scripts.quiet bot.serving shell --quiet --model models/wallet.tar.gz \
  --endpoints endpoints.yml --interface 127.0.0.1 --port "${RASA_PORT}"
