#!/usr/bin/env bash
# The README's run command: installs what is missing, builds the release client, and starts
# threadline-gateway on 127.0.0.1:8080 serving the demo host page with the messenger embedded,
# the agent console and (dev mode) the control API.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh
tl_install_tools
trunk build --release
scripts/sizes.sh dist
cargo build --locked --release -p threadline-gateway
listen="${THREADLINE_LISTEN:-127.0.0.1:8080}"
echo
port="${listen##*:}"
echo "Messenger page: http://$listen/"
echo "Demo host page: http://$listen/demo/   (strict CSP: /demo/strict.html; other origin: http://localhost:$port/demo/cross-origin.html)"
echo "Agent console:  http://$listen/console"
echo "Control API:    http://$listen/control/deployments"
echo
exec target/release/threadline-gateway --listen "$listen" --data "${THREADLINE_DATA:-threadline-data}" \
  --static dist --dev
