#!/usr/bin/env bash
# Run a small test suite of pghot under valgrind memcheck: invalid reads and
# writes, branches on uninitialised values, bad frees and definite leaks fail
# the run (on CPython 3.11 uninitialised values used as addresses are not
# reported: see scripts/valgrind-python311.supp).  Uses the normal
# (optimised, non-sanitized) build of whatever Python runs it: an installed
# or editable pghot.  About 4 minutes.
#
# Usage: scripts/valgrind.sh [PYTEST ARGS...]
#   default tests: the queues, snapshots, defects (known answers), bad input
#   and one round of each fuzz target.
# Environment:
#   PYTHON               interpreter with pghot installed (default: the active
#                        virtualenv's python, else python3)
#   PGHOT_VALGRIND_SUPP  extra suppression files, colon-separated
#   PGHOT_VALGRIND_GEN_SUPP=all  print a suppression entry for each error
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ -n ${PYTHON:-} ]]; then
    py=$PYTHON
elif [[ -n ${VIRTUAL_ENV:-} ]]; then
    py=$VIRTUAL_ENV/bin/python
else
    py=python3
fi
command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind is not installed" >&2; exit 2; }

tests=("$@")
if [[ ${#tests[@]} -eq 0 ]]; then
    tests=(tests/test_queues.py tests/test_snapshot.py tests/test_semantics.py
           tests/test_bad_input.py tests/test_fuzz.py)
fi

# Suppressions: ours (what glibc, CPython and numpy report; CPython 3.11's
# uninitialised zero-int digit in a file of its own), and CPython's own
# (Misc/valgrind-python.supp; Debian ships it as /usr/lib/valgrind/python3.supp)
# where there is one.  None names a pghot frame.
supp=(--suppressions="$repo/scripts/valgrind-python.supp")
if [[ $("$py" -c 'import sys; print(sys.version_info[:2] == (3, 11))') == True ]]; then
    supp+=(--suppressions="$repo/scripts/valgrind-python311.supp")
fi
for f in /usr/lib/valgrind/python3.supp /usr/share/doc/python3*/valgrind-python.supp \
         ${PGHOT_VALGRIND_SUPP:+${PGHOT_VALGRIND_SUPP//:/ }}; do
    [[ -f $f ]] && supp+=(--suppressions="$f")
done

logs=$(mktemp -d /tmp/pghot-valgrind.XXXXXX)
# Python objects through malloc, so memcheck sees each one (no pymalloc
# arenas, whose reads of their own headers look invalid to valgrind).
export PYTHONMALLOC=malloc
# The fuzz targets: one hypothesis round each (the budget is spent at once).
export PGHOT_FUZZ_SECONDS=${PGHOT_FUZZ_SECONDS:-0}

cd "$repo"
echo "+ valgrind --tool=memcheck $("$py" -c 'import pghot._core as c; print(c.__file__)')"
start=$SECONDS
set +e
valgrind --tool=memcheck --error-exitcode=99 \
    --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
    --num-callers=40 --gen-suppressions="${PGHOT_VALGRIND_GEN_SUPP:-no}" \
    "${supp[@]}" --log-file="$logs/memcheck.%p.log" \
    "$py" -m pytest -q -p no:cacheprovider "${tests[@]}"
rc=$?
set -e
echo "valgrind: $((SECONDS - start)) s, exit status $rc"
grep -h "ERROR SUMMARY\|definitely lost:" "$logs"/memcheck.*.log || true
if [[ $rc -eq 99 ]]; then
    cat "$logs"/memcheck.*.log
    echo "valgrind.sh: FAILED: memcheck errors above (log kept in $logs)" >&2
    exit 1
fi
if [[ $rc -ne 0 ]]; then
    echo "valgrind.sh: FAILED: pytest exit status $rc (log kept in $logs)" >&2
    exit "$rc"
fi
rm -r "$logs"
echo "valgrind.sh: clean"
