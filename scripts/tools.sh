# Source me (bash): installs the pinned toolchain when something is missing, then puts the tools on
# PATH. Idempotent: when everything is present it only checks versions (well under 2 s). Nothing is
# downloaded from GitHub: crates come from crates.io, wasm-opt from npm, Chromium from Debian.
#
# Pins (keep in step with Cargo.lock and Trunk.toml [tools]):
TRUNK_VERSION=0.21.14          # trunk 0.22.x requires rustc >= 1.96.1; this machine has 1.95
WASM_BINDGEN_VERSION=0.2.130   # == wasm-bindgen in Cargo.lock (pinned with "=" in Cargo.toml)
WASM_PACK_VERSION=0.15.1       # for `wasm-pack test --headless --chrome ... --mode no-install`
BINARYEN_MAJOR=132             # npm `binaryen`; Debian bookworm's binaryen 108 breaks the externref table
AXE_VERSION=4.14.1             # npm `axe-core`: the end-to-end accessibility audit (tests/browser/people.rs)

TL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$TL_ROOT/.tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"

# has_version CMD SUBSTRING: CMD exists and `CMD --version` contains SUBSTRING.
tl_has_version() { local v; v="$("$1" --version 2>/dev/null)" && [[ "$v" == *"$2"* ]]; }

tl_install_tools() {
  local lock_version
  lock_version=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' "$TL_ROOT/Cargo.lock")
  if [[ "$lock_version" != "$WASM_BINDGEN_VERSION" ]]; then
    echo "scripts/tools.sh: Cargo.lock has wasm-bindgen $lock_version but the pin is $WASM_BINDGEN_VERSION;" \
         "update WASM_BINDGEN_VERSION here and wasm_bindgen in Trunk.toml together." >&2
    return 1
  fi

  local missing=()
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
  command -v brotli >/dev/null 2>&1 || missing+=(brotli)
  if ((${#missing[@]})); then
    echo "== apt-get install ${missing[*]}"
    local sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi

  rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown \
    || rustup target add wasm32-unknown-unknown

  tl_has_version trunk "trunk $TRUNK_VERSION" \
    || cargo install --locked trunk --version "$TRUNK_VERSION"

  # No --locked: wasm-bindgen-cli's own Cargo.lock pins webpki-roots 1.0.11, which this registry
  # does not serve ("failed to select a version for the requirement webpki-roots").
  if ! tl_has_version wasm-bindgen "wasm-bindgen $WASM_BINDGEN_VERSION" \
     || ! tl_has_version wasm-bindgen-test-runner "$WASM_BINDGEN_VERSION"; then
    cargo install --force wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
  fi

  tl_has_version wasm-pack "wasm-pack $WASM_PACK_VERSION" \
    || cargo install --locked wasm-pack --version "$WASM_PACK_VERSION"

  tl_has_version "$TL_ROOT/.tools/node_modules/.bin/wasm-opt" "version $BINARYEN_MAJOR" \
    || npm install --prefix "$TL_ROOT/.tools" --no-audit --no-fund --loglevel=error "binaryen@$BINARYEN_MAJOR"

  grep -qs "\"version\": \"$AXE_VERSION\"" "$TL_ROOT/.tools/node_modules/axe-core/package.json" \
    || npm install --prefix "$TL_ROOT/.tools" --no-audit --no-fund --loglevel=error "axe-core@$AXE_VERSION"

  # Trunk runs `cargo build --offline` (Trunk.toml offline = true): fetch every crate first.
  (cd "$TL_ROOT" && cargo fetch --locked --quiet)
}
