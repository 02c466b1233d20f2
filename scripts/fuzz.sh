#!/usr/bin/env bash
# The long fuzz run: tests/test_fuzz.py for 5 minutes (PGHOT_FUZZ_SECONDS,
# default 300) against the installed pghot.
#
# Usage: scripts/fuzz.sh [--asan [VENV]] [PYTEST ARGS...]
#   --asan  run it under AddressSanitizer + UBSan instead, through
#           scripts/sanitize.sh (which builds the sanitized venv VENV,
#           default /tmp/pghot-asan-venv)
# Environment: PYTHON (interpreter with pghot installed; default the active
#   virtualenv's python, else python3), PGHOT_FUZZ_SECONDS.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PGHOT_FUZZ_SECONDS=${PGHOT_FUZZ_SECONDS:-300}

if [[ ${1:-} == --asan ]]; then
    shift
    venv=/tmp/pghot-asan-venv
    if [[ $# -gt 0 && $1 != -* ]]; then
        venv=$1
        shift
    fi
    exec "$repo/scripts/sanitize.sh" "$venv" tests/test_fuzz.py "$@"
fi

if [[ -n ${PYTHON:-} ]]; then
    py=$PYTHON
elif [[ -n ${VIRTUAL_ENV:-} ]]; then
    py=$VIRTUAL_ENV/bin/python
else
    py=python3
fi
cd "$repo"
echo "+ PGHOT_FUZZ_SECONDS=$PGHOT_FUZZ_SECONDS $py -m pytest tests/test_fuzz.py $*"
start=$SECONDS
"$py" -m pytest -q -p no:cacheprovider tests/test_fuzz.py "$@"
echo "fuzz.sh: clean ($((SECONDS - start)) s)"
