#!/usr/bin/env bash
# Re-fetches MaxMind's test databases from the maxminddb 3.2.0 source package
# on PyPI (they live in tests/data/test-data/, Apache-2.0 / MIT) and checks
# them against SHA256SUMS. Usage: tests/data/maxmind/fetch.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --no-deps --no-binary :all: -d "$work" maxminddb==3.2.0
tar -xzf "$work"/maxminddb-3.2.0.tar.gz -C "$work"
src="$work/maxminddb-3.2.0/tests/data"
for f in GeoIP2-City-Test.mmdb GeoLite2-ASN-Test.mmdb GeoIP2-Anonymous-IP-Test.mmdb; do
  cp "$src/test-data/$f" "$here/$f"
done
cp "$src/LICENSE-APACHE" "$src/LICENSE-MIT" "$here/"
(cd "$here" && sha256sum -c SHA256SUMS)
