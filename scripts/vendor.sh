#!/usr/bin/env bash
# Re-copy the vendored front-end libraries from npm into static/vendor/ (the copies are committed;
# `make` never runs this). Versions are pinned exactly in package.json and package-lock.json.
#
#   bash scripts/vendor.sh        (or: npm run vendor)
#
# Then review `git diff --stat static/vendor`, update the versions in static/vendor/README.md,
# run the browser tests (pytest -m e2e tests/frontend tests/sandbox) and commit.
set -euo pipefail
cd "$(dirname "$0")/.."

# --ignore-scripts: nothing from the registry runs on this machine.
# --omit=optional: pdfjs-dist's optional @napi-rs/canvas is for Node rendering, not browsers.
npm ci --ignore-scripts --omit=optional --no-audit --no-fund

PDFJS=node_modules/pdfjs-dist
SIGPAD=node_modules/signature_pad
OUT=static/vendor

rm -rf "$OUT/pdfjs" "$OUT/signature_pad"
mkdir -p "$OUT/pdfjs/wasm" "$OUT/signature_pad"

# pdf.js: the "legacy" build (polyfilled for older phone browsers), minified. ES modules (.mjs):
# loaded with import() by static/js/pdf-viewer.js, so no global script tag is needed.
cp "$PDFJS/legacy/build/pdf.min.mjs" "$PDFJS/legacy/build/pdf.worker.min.mjs" "$OUT/pdfjs/"
cp "$PDFJS/LICENSE" "$OUT/pdfjs/LICENSE"
# Character maps (CJK and other non-embedded CMaps) and the standard 14 fonts' substitutes.
cp -R "$PDFJS/cmaps" "$PDFJS/standard_fonts" "$PDFJS/iccs" "$OUT/pdfjs/"
# JPEG 2000 / JBIG2 decoders: our CSP has no 'wasm-unsafe-eval', so only the plain-JS fallbacks
# are shipped (pdf-viewer.js passes useWasm: false).
cp "$PDFJS"/wasm/*_nowasm_fallback.js "$PDFJS"/wasm/LICENSE_* "$OUT/pdfjs/wasm/"

# signature_pad: the UMD build defines window.SignaturePad (a classic script).
# (with its source map: the file names it, and Django's manifest storage refuses a missing one)
cp "$SIGPAD/dist/signature_pad.umd.min.js" "$SIGPAD/dist/signature_pad.umd.min.js.map" "$OUT/signature_pad/"
cp "$SIGPAD/LICENSE" "$OUT/signature_pad/LICENSE"

echo "pdfjs-dist    $(node -p "require('./$PDFJS/package.json').version")"
echo "signature_pad $(node -p "require('./$SIGPAD/package.json').version")"
