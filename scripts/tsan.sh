#!/usr/bin/env bash
# Build pghot with ThreadSanitizer into a private virtualenv and run the
# threaded tests under it.  Fails if a test fails or if TSan reports anything
# (in pytest or in any Python subprocess it starts).
#
# Usage: scripts/tsan.sh [VENV] [PYTEST ARGS...]
#   VENV        virtualenv to create/reuse (default /tmp/pghot-tsan-venv);
#               the CMake build tree goes to VENV/build (reused: rebuilds
#               are incremental), never to the repository's build/.
#   PYTEST ARGS passed on to pytest; unless one of them names a test (a
#               path or a node id), the default tests are added:
#               tests/test_threads.py, tests/test_promoter.py and any
#               tests/*thread*.py or tests/test_fork*.py.  A first argument
#               naming a test file is taken as one, not as VENV.
# Environment: PYTHON (interpreter for the venv, default python3),
#   PGHOT_TSAN_SKIP_BUILD=1 to reuse an existing build as is,
#   PGHOT_TSAN_HALT=1 to stop at the first report (default: report every
#   race of the run, then fail), PGHOT_TSAN_NO_SETARCH=1 to keep ASLR on.
#
# Only the pytest process (and what it starts) runs with libtsan preloaded:
# pip, CMake and the compiler do not.  gcc 12's libtsan preloaded into an
# uninstrumented shell (bash, dash) crashes it at its first _setjmp, so a test
# that runs a shell command cannot be run under this script.
#
# The suppressions (scripts/tsan.supp) cover only code that is not pghot's;
# a report with a frame in pghot's modules is never suppressed.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=/tmp/pghot-tsan-venv
if [[ $# -gt 0 && $1 != -* && $1 != *.py && $1 != *::* && ! -f $1 ]]; then
    venv=$1
    shift
fi
build_dir=$venv/build
py=$venv/bin/python

libtsan=$(gcc -print-file-name=libtsan.so)
if [[ ! -e $libtsan ]]; then
    echo "tsan.sh: gcc has no libtsan.so ('gcc -print-file-name=libtsan.so' found none):" \
         "install gcc's ThreadSanitizer runtime, e.g. 'apt-get install libtsan2'" \
         "(libtsan2 for gcc 12 and later, libtsan0 for gcc 11 and earlier)" >&2
    exit 2
fi
# libtsan.so may be a linker script or a dangling symlink to libtsan.so.N.
libtsan=$(readlink -f "$libtsan")
if [[ ! -e $libtsan ]] || ! head -c 4 "$libtsan" | grep -q ELF; then
    echo "tsan.sh: $libtsan is missing or not the TSan runtime:" \
         "install it with 'apt-get install libtsan2' (libtsan0 for gcc 11 and earlier)" >&2
    exit 2
fi

# TSan maps its shadow memory at fixed addresses; with high-entropy ASLR
# (vm.mmap_rnd_bits > 28 on newer kernels) gcc 12's runtime dies with
# "FATAL: ThreadSanitizer: unexpected memory mapping".  If a probe shows
# that, everything runs with ASLR off (setarch -R).  The probe runs the real
# interpreter, not a pyenv shim (a shell script: see above).
base_py=$("${PYTHON:-python3}" -c 'import sys; print(sys.executable)')
setarch=()
probe() { "${setarch[@]}" env LD_PRELOAD="$libtsan" "$base_py" -c 'import threading' 2>&1; }
if ! out=$(probe); then
    if [[ $out == *"unexpected memory mapping"* && ${PGHOT_TSAN_NO_SETARCH:-0} != 1 ]]; then
        setarch=(setarch "$(uname -m)" -R)
        echo "tsan.sh: TSan needs ASLR off here: running under ${setarch[*]}"
        out=$(probe) || {
            echo "$out" >&2
            echo "tsan.sh: TSan cannot run on this machine even with ASLR off" \
                 "(try 'sysctl vm.mmap_rnd_bits=28')" >&2
            exit 2
        }
    else
        echo "$out" >&2
        echo "tsan.sh: $base_py does not start with $libtsan preloaded" >&2
        exit 2
    fi
fi

start=$SECONDS
if [[ ! -x $py ]]; then
    "${PYTHON:-python3}" -m venv "$venv"
fi
if [[ ${PGHOT_TSAN_SKIP_BUILD:-0} != 1 ]]; then
    echo "+ PGHOT_TSAN=ON pip install -C build-dir=$build_dir -C install.strip=false \"$repo[test]\""
    # install.strip=false: scikit-build-core strips the installed modules by
    # default, and TSan's stacks would then show "<null>" for pghot's frames.
    PGHOT_TSAN=ON PGHOT_SANITIZE=OFF "$py" -m pip install --quiet --disable-pip-version-check \
        -C build-dir="$build_dir" -C install.strip=false "$repo[test]"
fi
echo "build: $((SECONDS - start)) s"

cd "$repo"
names_tests=0
for a in "$@"; do
    [[ $a == *::* || $a == *.py || ( $a != -* && -e $a ) ]] && names_tests=1
done
if [[ $names_tests -eq 0 ]]; then
    # No test named (no argument, or only options such as -x or -k EXPR):
    # the threaded tests, and whatever new ones match the names.
    declare -A seen=()
    for f in tests/test_threads.py tests/test_promoter.py tests/*thread*.py tests/test_fork*.py; do
        [[ -f $f && -z ${seen[$f]:-} ]] || continue
        seen[$f]=1
        set -- "$@" "$f"
    done
fi

# Each report goes to its own file (tsan.PID), so one from a subprocess whose
# exit status a test ignores is still seen; the files are also grepped for
# "WARNING: ThreadSanitizer", whatever the exit status.
logs=$(mktemp -d /tmp/pghot-tsan-logs.XXXXXX)
tsan_opts=(
    "halt_on_error=${PGHOT_TSAN_HALT:-0}"
    exitcode=66                 # any report makes the process exit 66
    second_deadlock_stack=1     # both stacks of a lock-order inversion
    history_size=5              # 1M accesses a thread: "previous access" stacks kept
    report_signal_unsafe=0      # CPython's handlers only set flags
    suppressions="$repo/scripts/tsan.supp"
    log_path="$logs/tsan"
)
export TSAN_OPTIONS="${tsan_opts[*]}"
# Python objects through malloc, so TSan sees each allocation as new memory
# rather than pymalloc's reuse of its arenas.
export PYTHONMALLOC=${PYTHONMALLOC:-malloc}
preload=(env LD_PRELOAD="$libtsan")

# Make sure the instrumented build, not a source tree, is what gets imported.
(cd /tmp && "${setarch[@]}" "${preload[@]}" "$py" -c '
import pghot._core as c, sys
maps = open("/proc/self/maps").read()
assert "libtsan" in maps and c.__file__.startswith(sys.prefix), (c.__file__, sys.prefix)
print("testing", c.__file__)')

cd "$repo"
t0=$SECONDS
set +e
"${setarch[@]}" "${preload[@]}" "$py" -m pytest -q -p no:cacheprovider "$@" 2>&1 \
    | tee "$logs/output"
rc=${PIPESTATUS[0]}
set -e
echo "tests: $((SECONDS - t0)) s, pytest exit status $rc"

# Reports normally go to the log files; what TSan prints before it reads
# log_path (or a FATAL error) goes to the output.
reports=$(find "$logs" -type f -name 'tsan.*' | sort)
in_output=$(grep -E '(WARNING|ERROR|FATAL): ThreadSanitizer' "$logs/output" || true)
if [[ -n $reports || -n $in_output ]]; then
    for f in $reports; do
        echo "==== TSan log $f"
        cat "$f"
    done
    n=$( (cat $reports /dev/null; echo "$in_output") | grep -c "WARNING: ThreadSanitizer" || true)
    echo "tsan.sh: FAILED: $n ThreadSanitizer warning(s)${in_output:+ (some in the output above)}" \
         "(kept in $logs)" >&2
    exit 1
fi
rm -r "$logs"
if [[ $rc -eq 66 ]]; then
    echo "tsan.sh: FAILED: exit status 66 (TSan's exitcode) but no report found" >&2
    exit 1
fi
if [[ $rc -ne 0 ]]; then
    echo "tsan.sh: FAILED: pytest exit status $rc (no TSan report)" >&2
    exit "$rc"
fi
echo "tsan.sh: clean (ThreadSanitizer, $((SECONDS - start)) s in all)"
