#!/bin/sh
# vendor.sh re-fetches the front-end parts the GUI embeds, at the exact
# pinned versions, with `npm pack` (only needed to change a version: the
# files are committed, so a clone builds and runs without npm).
#
#	sh web/vendor.sh
set -eu

HTMX_VERSION=2.0.11
CHARTJS_VERSION=4.6.1
PICO_VERSION=2.1.1
# axe-core runs in the accessibility test only (web/testdata, not embedded).
AXE_VERSION=4.14.1

here=$(cd "$(dirname "$0")" && pwd)
out="$here/static/vendor"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# fetch PACKAGE VERSION: unpack the registry tarball into $tmp/PACKAGE.
fetch() {
	mkdir -p "$tmp/$1"
	(cd "$tmp" && npm pack --silent "$1@$2" >/dev/null)
	# npm names a scoped package's tarball @scope/name → scope-name.
	tgz=$(printf '%s' "$1" | sed 's#^@##; s#/#-#')-$2.tgz
	tar -xzf "$tmp/$tgz" -C "$tmp/$1" --strip-components=1
}

mkdir -p "$out"
fetch htmx.org "$HTMX_VERSION"
cp "$tmp/htmx.org/dist/htmx.min.js" "$out/htmx.min.js"
cp "$tmp/htmx.org/LICENSE" "$out/htmx.LICENSE"

fetch chart.js "$CHARTJS_VERSION"
cp "$tmp/chart.js/dist/chart.umd.min.js" "$out/chart.umd.min.js"
cp "$tmp/chart.js/LICENSE.md" "$out/chart.js.LICENSE.md"

fetch @picocss/pico "$PICO_VERSION"
cp "$tmp/@picocss/pico/css/pico.min.css" "$out/pico.min.css"
cp "$tmp/@picocss/pico/LICENSE.md" "$out/pico.LICENSE.md"

fetch axe-core "$AXE_VERSION"
mkdir -p "$here/testdata/axe"
cp "$tmp/axe-core/axe.min.js" "$here/testdata/axe/axe.min.js"
cp "$tmp/axe-core/LICENSE" "$here/testdata/axe/axe.LICENSE"
echo "axe-core $AXE_VERSION axe.min.js (MPL-2.0, axe.LICENSE)" >"$here/testdata/axe/VERSION"

cat >"$out/VERSIONS" <<VERSIONS
htmx.org $HTMX_VERSION dist/htmx.min.js (0BSD, htmx.LICENSE)
chart.js $CHARTJS_VERSION dist/chart.umd.min.js (MIT, chart.js.LICENSE.md)
@picocss/pico $PICO_VERSION css/pico.min.css (MIT, pico.LICENSE.md)
VERSIONS
echo "vendored into $out:"
cat "$out/VERSIONS"
