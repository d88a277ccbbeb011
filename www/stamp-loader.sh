#!/bin/sh
# Trunk post_build hook (Trunk.toml): writes the embed loader www/threadline.js into the staged
# dist as /threadline.js, with this build's hashed app file names (JS + wasm, stylesheet) put in
# for @APP@ and @CSS@, and comments and indentation stripped (the eagerly loaded part must stay
# within 2.5 KB gzip; crates/gateway/tests/browser/embed.rs checks it).
# Env (set by trunk): TRUNK_SOURCE_DIR (where index.html is), TRUNK_STAGING_DIR (output).
set -eu
src="${TRUNK_SOURCE_DIR:-.}/www/threadline.js"
out="${TRUNK_STAGING_DIR:?run by trunk, or set TRUNK_STAGING_DIR}"

only() { # only PATTERN: the single file in $out matching PATTERN
  set -- $(cd "$out" && ls $1 2>/dev/null)
  if [ $# -ne 1 ]; then
    echo "stamp-loader: expected exactly one app file like $pattern in $out, found ${*:-none}" >&2
    exit 1
  fi
  echo "$1"
}
pattern='threadline*_bg.wasm'; wasm=$(only "$pattern")
pattern='threadline*.css'; css=$(only "$pattern")
app=${wasm%_bg.wasm}
if [ "$app" = threadline ]; then
  echo "stamp-loader: the app's JS would be threadline.js, the loader's name: keep trunk's file hashes on" >&2
  exit 1
fi
sed -e '1,/\*\//{/^\/\*/,/\*\//d}' -e 's/^ *//' -e '/^\/\//d' -e 's| // .*$||' \
    -e "s|@APP@|$app|g" -e "s|@CSS@|$css|g" "$src" > "$out/threadline.js"
