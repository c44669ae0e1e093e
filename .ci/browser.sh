#!/usr/bin/env bash
# Install Debian's chromium and chromium-driver for the arena's browser tests (idempotent).
# The tests use /usr/bin/chromium and /usr/bin/chromedriver (Selenium from PyPI drives them).
set -euo pipefail
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  echo "browser.sh: chromium and chromedriver already installed" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq chromium chromium-driver >&2
/usr/bin/chromium --version >&2
