#!/usr/bin/env bash
# Refresh the Swagger UI assets that api/docs/ embeds for the /docs page, from the npm
# registry's swagger-ui-dist package. Usage: scripts/refresh-swagger-ui.sh [VERSION]
# Then bump the version in docs/dependencies.md and run `go test ./api ./e2e`.
set -euo pipefail
version="${1:-5.35.0}"
cd "$(dirname "$0")/.."
dest=api/docs
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

(cd "$tmp" && npm pack --silent "swagger-ui-dist@$version" >/dev/null && tar xzf "swagger-ui-dist-$version.tgz")
for f in swagger-ui-bundle.js swagger-ui.css favicon-32x32.png LICENSE NOTICE swagger-ui-bundle.js.LICENSE.txt; do
  cp "$tmp/package/$f" "$dest/$f"
done
# The source maps are not shipped: drop the comments that point at them, so that no browser
# asks the server for a file it does not have.
sed -i '/sourceMappingURL=/d' "$dest/swagger-ui-bundle.js" "$dest/swagger-ui.css"
echo "swagger-ui-dist $version" > "$dest/VERSION"
echo "refreshed $dest from swagger-ui-dist@$version"
