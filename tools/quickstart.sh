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
  systemd udev dpkg-dev fakeroot file man-db adduser tmux
  libusb-1.0-0-dev libserialport-dev libhdf5-dev hdf5-tools libzmq3-dev
  libinih-dev libcjson-dev libck-dev libdpdk-dev libsystemd-dev libcairo2-dev libfontconfig-dev
  umockdev libumockdev-dev libfuzzer-14-dev libclang-rt-14-dev
  python3 python3-h5py python3-zmq python3-numpy python3-scipy python3-pil
)

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

run_tests() {
  local dir=$1; shift
  (cd "$dir" && ctest --output-on-failure -j"$jobs" "$@")
}

test_all() {
  build build
  run_tests build
  echo "==> ASan + UBSan build"
  build build-asan -DNORDIC_SANITIZE=address
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_tests build-asan -L sanitize
  echo "==> TSan build (the concurrent parts)"
  build build-tsan -DNORDIC_SANITIZE=thread
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 run_tests build-tsan -L concurrency
  echo "==> libFuzzer: the NFP/1 and text decoders, 20 s each (long runs: drivers/SERIAL.md)"
  cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DNORDIC_FUZZ=ON >/dev/null
  cmake --build build-fuzz -j"$jobs" --target fuzz_nfp fuzz_text
  run_tests build-fuzz -R '^fuzz_'
}

case "${1:-}" in
  demo) install_missing; demo ;;
  test) install_missing; test_all ;;
  *) echo "usage: $0 demo|test" >&2; exit 2 ;;
esac
