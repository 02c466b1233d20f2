"""The type stubs stay true: mypy checks the tests against the installed package."""

import os
import sys

from mypy import api as mypy_api


def test_mypy_on_tests(tmp_path):
    tests = os.path.dirname(os.path.abspath(__file__))
    out, err, status = mypy_api.run(
        [tests, "--cache-dir", str(tmp_path / "cache"), "--python-version",
         f"{sys.version_info.major}.{sys.version_info.minor}",
         "--ignore-missing-imports", "--no-error-summary"]
    )
    assert status == 0, out + err
