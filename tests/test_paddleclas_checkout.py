"""Tests that compare with PaddleClas skip without a checkout on a user's machine, saying
why, and fail under CI, which always provides one; a checkout whose imports are missing
fails, naming them."""

import os
import subprocess
import sys

import pytest

from tiny import ROOT

PARITY_TEST = "tests/test_pipeline_parity.py::test_flip_rate_is_one_half_as_in_paddleclas"


def run_parity_test(**env_changes):
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PADDLECLAS_HOME")}
    env.update(env_changes)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                           PARITY_TEST], cwd=ROOT, env=env, capture_output=True, text=True)


def test_the_parity_test_named_here_exists():
    with open(os.path.join(ROOT, PARITY_TEST.split("::")[0]), encoding="utf-8") as f:
        assert f"def {PARITY_TEST.split('::')[1]}(" in f.read()


@pytest.mark.slow
def test_without_a_checkout_a_user_skips_and_ci_fails():
    user = run_parity_test()
    assert user.returncode == 0 and "1 skipped" in user.stdout, user.stdout[-2000:]
    assert "set PADDLECLAS_HOME to a PaddleClas checkout" in user.stdout
    ci = run_parity_test(CI="true")
    assert ci.returncode == 1 and "1 error" in ci.stdout, ci.stdout[-2000:]
    assert "CI=true, but no PaddleClas checkout was found" in ci.stdout


def test_a_folder_that_is_no_checkout_is_named(tmp_path):
    from tools.benchmark import paddleclas_peer

    with pytest.raises(ValueError, match=f"{tmp_path} is not a PaddleClas checkout"):
        paddleclas_peer.checkout(str(tmp_path))
