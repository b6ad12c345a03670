#!/usr/bin/env bash
# Install the Restock agent on a Raspberry Pi (Raspberry Pi OS / Debian, aarch64), as root.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
apt-get update -qq
apt-get install -y -qq python3-venv mosquitto
id restock >/dev/null 2>&1 || useradd --system --home /var/lib/restock restock
python3 -m venv /opt/restock/venv
/opt/restock/venv/bin/pip install -q "$src"
install -d -o restock /etc/restock /var/lib/restock
[ -f /etc/restock/agent.toml ] || install -m 600 -o restock "$src/deploy/pi/agent.example.toml" /etc/restock/agent.toml
install -m 644 "$src/deploy/pi/restock-agent.service" /etc/systemd/system/restock-agent.service
systemctl daemon-reload
echo "Edit /etc/restock/agent.toml, check it with"
echo "  /opt/restock/venv/bin/restock agent check-config /etc/restock/agent.toml"
echo "then: systemctl enable --now restock-agent"
