#!/usr/bin/env bash
# The Debian package, tested as a platform team would use it: builds the
# package of a configured build directory (cpack -G DEB; default
# build-release), checks its Depends, installs it on this machine with apt
# (so that the dependencies resolve), and runs the installed binary from the
# installed paths only: `version`, every command's -h, the installed example
# configuration, and `replay` of the installed sample with its ruleset,
# whose output must equal tests/data/sample.expected.jsonl byte for byte.
# The package is removed again at the end, whether the test passed or not.
# Needs root or sudo. Exit status 0 only if every check passed.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build-release}"
pkg=aftersale-worker
bin=/usr/bin/aftersale-worker
share=/usr/share/aftersale-worker
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive

fail() {
  echo "test-package: FAIL: $*" >&2
  exit 1
}
installed() { dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; }
# The installed binary, with nothing of the caller's environment (ASW_CFG_*
# would change the configuration) and from / (no path of the checkout).
run_installed() { (cd / && env -i PATH=/usr/bin:/bin "$bin" "$@"); }

[ -f "$build/CPackConfig.cmake" ] || fail "$build is not a configured build directory"
installed && fail "$pkg is already installed; remove it first (dpkg -r $pkg)"
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
[ -n "$version" ] || fail "no project version in $build/CMakeCache.txt"

echo "== package ($build, cpack -G DEB)"
cmake --build "$build" -j"$(nproc)" >/dev/null
rm -f "$build/${pkg}_"*.deb
(cd "$build" && cpack -G DEB >/dev/null)
debs=("$build/${pkg}_${version}_"*.deb)
[ ${#debs[@]} -eq 1 ] && [ -f "${debs[0]}" ] || fail "cpack made no ${pkg}_${version}_*.deb"
deb=$(realpath "${debs[0]}")
depends=$(dpkg-deb -f "$deb" Depends)
echo "$(basename "$deb"): Depends: $depends"
for lib in librdkafka1 libavro23 libjansson4 libmicrohttpd12 libc6; do
  grep -qE "(^|, )$lib( |,|$)" <<<"$depends" || fail "Depends does not name $lib"
done

echo "== install (apt-get install ./$(basename "$deb"))"
tmp=$(mktemp -d)
cleanup() {
  installed && $sudo dpkg -r "$pkg" >/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
if ! $sudo apt-get install -y -qq --no-install-recommends "$deb" >"$tmp/apt.log" 2>&1; then
  cat "$tmp/apt.log" >&2
  fail "apt-get install $deb failed"
fi
installed || fail "$pkg is not installed after apt-get install"
for f in "$bin" /usr/share/man/man1/aftersale-worker.1 /usr/share/doc/aftersale-worker/README.md \
  "$share"/examples/{worker.properties,sample.jsonl,sample.properties,sample.expected.jsonl}; do
  [ -f "$f" ] || fail "$f is not installed"
done
for f in schemas/*.avsc; do
  cmp -s "$f" "$share/$f" || fail "$share/$f is not installed or differs from $f"
done

echo "== installed: version"
run_installed version >"$tmp/version" || fail "version exited $?"
cat "$tmp/version"
grep -qxF "aftersale-worker $version" "$tmp/version" || fail "version does not say $version"
for lib in librdkafka jansson avro-c; do
  grep -q "^$lib [0-9]" "$tmp/version" || fail "version does not name $lib"
done

echo "== installed: every command's -h"
commands=$(run_installed help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }')
[ -n "$commands" ] || fail "help lists no commands"
for c in $commands; do
  run_installed "$c" -h >/dev/null || fail "$c -h exited $?"
done

echo "== installed: the systemd unit verifies (systemd-analyze: no warning)"
unit=/usr/lib/systemd/system/aftersale-worker.service
[ -f "$unit" ] || fail "$unit is not installed"
if command -v systemd-analyze >/dev/null; then
  # It exits 0 on a misspelt setting too, with a warning: any output fails.
  out=$(systemd-analyze verify "$unit" 2>&1) || fail "systemd-analyze verify $unit: $out"
  [ -z "$out" ] || fail "systemd-analyze verify $unit: $out"
else
  echo "systemd-analyze is not installed: the unit is not verified" >&2
  exit 1
fi

echo "== installed: the example configuration loads"
run_installed run -c "$share/examples/worker.properties" --print-config >/dev/null \
  || fail "run -c $share/examples/worker.properties --print-config exited $?"

echo "== installed: replay of the installed sample"
run_installed replay -q -c "$share/examples/sample.properties" -o "$tmp/replay.jsonl" \
  "$share/examples/sample.jsonl" || fail "replay exited $?"
cmp "$tmp/replay.jsonl" tests/data/sample.expected.jsonl \
  || fail "the installed replay differs from tests/data/sample.expected.jsonl"
echo "$(wc -l <"$tmp/replay.jsonl") output lines, equal to tests/data/sample.expected.jsonl"

echo "== remove (dpkg -r $pkg)"
$sudo dpkg -r "$pkg" >/dev/null
installed && fail "$pkg is still installed after dpkg -r"
[ ! -e "$bin" ] || fail "$bin is still there after dpkg -r"
echo "test-package: ok"
