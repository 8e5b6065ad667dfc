#!/bin/sh
# Rebuilds the sample bundle, its source map and the real V8 stack trace it produces.
# Not run by CI (needs node and npm); the outputs are committed.
#   app.min.js, app.min.js.map   esbuild --bundle --minify --sourcemap of app/src/
#   trace.txt                    what `node app.min.js` prints, with the bundle's local
#                                path replaced by the URL it would be served from
set -eu
cd "$(dirname "$0")"
ESBUILD_VERSION=0.28.2
URL=https://example.com/static/app.min.js
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
(cd "$tools" && npm init -y >/dev/null && npm install --silent "esbuild@$ESBUILD_VERSION")
"$tools/node_modules/.bin/esbuild" app/src/index.js --bundle --minify --sourcemap \
  --outfile=app.min.js --log-level=warning
# The app logs the error's stack to stderr and exits with status 1.
node app.min.js 2>trace.raw >/dev/null || true
sed "s#$(pwd)/app.min.js#$URL#g" trace.raw >trace.txt
rm trace.raw
cat trace.txt
