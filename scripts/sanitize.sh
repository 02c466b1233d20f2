#!/usr/bin/env bash
# Build pghot with AddressSanitizer + UBSan into a private virtualenv and run
# the whole test suite under it.  Fails if a test fails or if either
# sanitizer reports anything (in pytest or in any subprocess it starts).
#
# Usage: scripts/sanitize.sh [VENV] [PYTEST ARGS...]
#   VENV        virtualenv to create/reuse (default /tmp/pghot-asan-venv);
#               the CMake build tree goes to VENV/build (reused: rebuilds
#               are incremental), never to the repository's build/.
#   PYTEST ARGS passed on to pytest (default: the whole suite); a first
#               argument naming a test file is taken as one, not as VENV.
# Environment: PYTHON (interpreter for the venv, default python3),
#   PGHOT_SANITIZE_SKIP_BUILD=1 to reuse an existing build as is,
#   PGHOT_FUZZ_SECONDS (tests/test_fuzz.py's budget, default here 5).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=/tmp/pghot-asan-venv
if [[ $# -gt 0 && $1 != -* && $1 != *.py && $1 != *::* && ! -f $1 ]]; then
    venv=$1
    shift
fi
build_dir=$venv/build
py=$venv/bin/python

libasan=$(gcc -print-file-name=libasan.so)
libstdcxx=$(gcc -print-file-name=libstdc++.so)
[[ -e $libstdcxx ]] || libstdcxx=
if [[ ! -e $libasan ]]; then
    echo "sanitize.sh: gcc has no libasan.so (install gcc's libasan)" >&2
    exit 2
fi

start=$SECONDS
if [[ ! -x $py ]]; then
    "${PYTHON:-python3}" -m venv "$venv"
fi
if [[ ${PGHOT_SANITIZE_SKIP_BUILD:-0} != 1 ]]; then
    echo "+ PGHOT_SANITIZE=ON pip install -C build-dir=$build_dir \"$repo[test]\""
    PGHOT_SANITIZE=ON "$py" -m pip install --quiet --disable-pip-version-check \
        -C build-dir="$build_dir" "$repo[test]"
fi
echo "build: $((SECONDS - start)) s"

# Each sanitizer report goes to its own file (asan.PID / ubsan.PID), so one
# from a subprocess whose exit status a test ignores is still seen.
logs=$(mktemp -d /tmp/pghot-sanitize-logs.XXXXXX)
# libasan first, as the interpreter is not built with it; libstdc++ too, so
# that ASan finds the real __cxa_throw when a C++ extension (matplotlib's)
# throws, which it cannot when libstdc++ is only dlopen()ed later.
export LD_PRELOAD="$libasan${libstdcxx:+:$libstdcxx}"
# CPython frees not everything at exit by design: no leak checking.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:detect_stack_use_after_return=1:check_initialization_order=1:allocator_may_return_null=1:log_path=$logs/asan"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$logs/ubsan"
# Python objects through malloc, so ASan sees them too.
export PYTHONMALLOC=malloc
export PGHOT_FUZZ_SECONDS=${PGHOT_FUZZ_SECONDS:-5}

# Make sure the sanitized build, not a source tree, is what gets imported.
(cd /tmp && "$py" -c '
import pghot._core as c, sys
maps = open("/proc/self/maps").read()
assert "libasan" in maps and c.__file__.startswith(sys.prefix), (c.__file__, sys.prefix)
print("testing", c.__file__)')

cd "$repo"
t0=$SECONDS
set +e
"$py" -m pytest -q -p no:cacheprovider "$@"
rc=$?
set -e
echo "tests: $((SECONDS - t0)) s, pytest exit status $rc"

reports=$(find "$logs" -type f | sort)
if [[ -n $reports ]]; then
    for f in $reports; do
        echo "==== sanitizer report $f"
        cat "$f"
    done
    echo "sanitize.sh: FAILED: sanitizer reports above (kept in $logs)" >&2
    exit 1
fi
rmdir "$logs"
if [[ $rc -ne 0 ]]; then
    echo "sanitize.sh: FAILED: pytest exit status $rc (no sanitizer report)" >&2
    exit "$rc"
fi
echo "sanitize.sh: clean (ASan + UBSan, $((SECONDS - start)) s in all)"
