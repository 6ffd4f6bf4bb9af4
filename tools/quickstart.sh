#!/usr/bin/env bash
# The two commands of the README's quick start, for a fresh Debian 12 machine.
#   tools/quickstart.sh demo   install what is missing, build, record a live
#                              trial on the built-in simulated board
#   tools/quickstart.sh test   install what is missing, build (plain, ASan+UBSan,
#                              TSan, libFuzzer) and run every test
# Run as root or with sudo available (only for apt-get).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
jobs=$(nproc 2>/dev/null || echo 2)

# Build tools, libraries and the independent clients the tests use (Debian's
# h5py/pyzmq/numpy/scipy: never PyPI).
packages=(
  build-essential cmake pkg-config clang clang-format
  systemd udev dpkg-dev fakeroot file man-db adduser tmux shellcheck
  libusb-1.0-0-dev libserialport-dev libhdf5-dev hdf5-tools libzmq3-dev
  libinih-dev libcjson-dev libck-dev libdpdk-dev libsystemd-dev libcairo2-dev libfontconfig-dev
  umockdev libumockdev-dev libfuzzer-14-dev libclang-rt-14-dev
  python3 python3-h5py python3-zmq python3-numpy python3-scipy python3-pil
  libwebsockets-dev libsodium-dev openssl chromium chromium-driver python3-selenium
  libsqlite3-dev python3-jsonschema python3-yaml libpq-dev postgresql-15 python3-psycopg2
  libcurl4-openssl-dev
  # Exports (tools/export/EXPORT.md): libxdf reads our XDF files in the tests
  # (a C++ test program: g++; its static library needs pugixml).
  g++ libxdf-dev libpugixml-dev
)
# bids-validator for the BIDS export test comes from npm, pinned, into the
# build tree (no global install). npm itself from Debian when it is missing.
BIDS_VALIDATOR_VERSION=1.15.0
command -v npm >/dev/null 2>&1 || packages+=(npm)

install_missing() {
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "==> installing: ${missing[*]}"
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

build() { # dir [cmake args...]
  local dir=$1; shift
  # /usr prefix: the packaging test builds and installs the .deb from this tree.
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr "$@" >/dev/null
  cmake --build "$dir" -j"$jobs"
}

demo() {
  build build
  local out="$here/demo-trials"
  mkdir -p "$out"
  echo "==> recording a trial on the simulated board (3 reps, left 20 % stronger)"
  ./build/daemon/nordicd --device 'sim:?rate=1000&reps=3&rest=3&peak_left=360&peak_right=290' \
    --data-dir "$out" --state-dir "$out/state" --pub tcp://127.0.0.1:5556 \
    --ctl "ipc://$out/state/control" --record DEMO01 --tare --mass 80 --lever 0.45 --log-level notice
  local file
  file=$(ls -t "$out"/DEMO01_*.h5 | head -n 1)
  echo "==> the trial file, read back: $file"
  ./build/tools/nordic-trial summary "$file"
}

# The station pages on the simulated board: http://127.0.0.1:8080/ until Ctrl-C.
station() {
  build build
  local out="$here/demo-trials"
  mkdir -p "$out/state"
  ./build/daemon/nordicd --device 'sim:?rate=1000&reps=0&rest=3&unloaded=20&peak_left=360&peak_right=290' \
    --data-dir "$out" --state-dir "$out/state" --pub tcp://127.0.0.1:5556 \
    --ctl "ipc://$out/state/control" --log-level warning &
  local daemon=$!
  trap 'kill $daemon 2>/dev/null; wait $daemon 2>/dev/null' EXIT
  sleep 1
  echo "==> open http://127.0.0.1:8080/ (the simulated athlete steps on after 20 s: tare first); Ctrl-C stops"
  ./build/tools/station/nordic-station --www tools/station/www --data-dir "$out" \
    --state-dir "$out/state" --daemon "board1=ipc://$out/state/control,tcp://127.0.0.1:5556" || true
}

run_tests() {
  local dir=$1; shift
  (cd "$dir" && ctest --output-on-failure -j"$jobs" "$@")
}

install_npm_tools() {
  local prefix="$here/build/npm"
  if [ ! -x "$prefix/node_modules/.bin/bids-validator" ] ||
     ! grep -q "\"version\": \"$BIDS_VALIDATOR_VERSION\"" \
       "$prefix/node_modules/bids-validator/package.json" 2>/dev/null; then
    echo "==> npm: bids-validator@$BIDS_VALIDATOR_VERSION into $prefix (test-only tool)"
    npm install --no-audit --no-fund --prefix "$prefix" "bids-validator@$BIDS_VALIDATOR_VERSION"
  fi
}

test_all() {
  build build
  install_npm_tools
  run_tests build
  echo "==> ASan + UBSan build"
  build build-asan -DNORDIC_SANITIZE=address
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_tests build-asan -L sanitize
  echo "==> TSan build (the concurrent parts)"
  build build-tsan -DNORDIC_SANITIZE=thread
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 run_tests build-tsan -L concurrency
  echo "==> libFuzzer: NFP/1, text, Loadstar, LabJack stream, URI, control request and config parsers, 10 s each (long runs: drivers/SERIAL.md)"
  cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DNORDIC_FUZZ=ON >/dev/null
  cmake --build build-fuzz -j"$jobs" --target fuzz_nfp fuzz_text fuzz_loadstar fuzz_labjack \
    fuzz_uri fuzz_control fuzz_config
  run_tests build-fuzz -R '^fuzz_'
}

case "${1:-}" in
  demo) install_missing; demo ;;
  station) install_missing; station ;;
  test) install_missing; test_all ;;
  *) echo "usage: $0 demo|station|test" >&2; exit 2 ;;
esac
