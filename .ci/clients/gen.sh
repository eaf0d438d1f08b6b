#!/usr/bin/env bash
# Generates TypeScript clients from a running roster's /openapi.json with orval and with
# openapi-typescript, compiles a small typed program against each with tsc --strict and runs
# both against that roster. Usage: gen.sh URL SUPERADMIN_KEY WORKDIR. Called by .ci/run.
set -euo pipefail
url=$1 key=$2 work=$3
here="$(cd "$(dirname "$0")" && pwd)"
cp "$here"/package.json "$here"/tsconfig.json "$here"/*-program.ts "$work"/
cd "$work"
# Exact versions, so a new release of a tool cannot turn CI red overnight; bump on purpose.
npm install --no-save --no-audit --no-fund --loglevel=error \
  orval@7.13.2 openapi-typescript@7.13.0 openapi-fetch@0.17.0 typescript@5.9.3 @types/node@20 >/dev/null
mkdir -p gen
curl -fsS "$url/openapi.json" -o gen/openapi.json
npx --no-install orval --input gen/openapi.json --output gen/orval.ts --client fetch --mode single >/dev/null
npx --no-install openapi-typescript gen/openapi.json --output gen/schema.d.ts >/dev/null
npx --no-install tsc -p tsconfig.json
ROSTER_URL=$url ROSTER_KEY=$key node out/orval-program.js
ROSTER_URL=$url ROSTER_KEY=$key node out/openapi-typescript-program.js
