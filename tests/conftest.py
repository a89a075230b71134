import os
import sys

# Tests run against this checkout even when it is not installed.
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    """6 classes, 2 training and 1 evaluation image each, 64x64."""
    from paddle_googlenet.data import make_demo_dataset

    root = tmp_path_factory.mktemp("data") / "tiny"
    make_demo_dataset(str(root), num_classes=6, train_per_class=2, eval_per_class=1,
                      image_size=64, seed=3)
    return str(root)


@pytest.fixture(scope="session")
def trained_run(tiny_data, tmp_path_factory):
    """The run directory of one 1-epoch run of the default config on the tiny data
    (``latest``, ``best_model``, metrics.jsonl, ...), for tests that only need some
    trained weights. Read it, never write into it: other tests share it."""
    from paddle_googlenet.config import load_config
    from paddle_googlenet.engine import Engine
    from tiny import DEFAULT_CONFIG, tiny_overrides

    out = str(tmp_path_factory.mktemp("trained_run"))
    Engine(load_config(DEFAULT_CONFIG, tiny_overrides(tiny_data, out, epochs=1))).train()
    return os.path.join(out, "GoogLeNet")


@pytest.fixture(scope="session")
def trained_run_10_classes(tiny_data, tmp_path_factory):
    """As ``trained_run`` with Arch.class_num 10 (the tiny set has 6): weights whose
    heads are for another class count, for fine-tuning tests. Read it only."""
    from paddle_googlenet.config import load_config
    from paddle_googlenet.engine import Engine
    from tiny import DEFAULT_CONFIG, tiny_overrides

    out = str(tmp_path_factory.mktemp("trained_run_10_classes"))
    Engine(load_config(DEFAULT_CONFIG, tiny_overrides(tiny_data, out, epochs=1,
                                                      **{"Arch.class_num": 10}))).train()
    return os.path.join(out, "GoogLeNet")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def paddleclas_checkout(required: bool):
    """The PaddleClas checkout the comparisons run against, or None without one.

    Without a checkout a test that needs one skips on a user's machine, saying why,
    and fails under CI, which always provides one; a test that only adds PaddleClas's
    rows when there is one (``required`` false) goes on without it outside CI. With a
    checkout, PaddleClas's imports must be installed: otherwise it fails, naming them.
    """
    from tools.benchmark import paddleclas_peer

    root = paddleclas_peer.checkout()
    if root is None:
        if in_ci():
            pytest.fail(f"CI=true, but no PaddleClas checkout was found: "
                        f"{paddleclas_peer.skip_reason()}", pytrace=False)
        if required:
            pytest.skip(paddleclas_peer.skip_reason())
        return None
    missing = paddleclas_peer.missing_modules()
    if missing:
        pytest.fail(f"PaddleClas's code at {root} needs {', '.join(missing)}: "
                    f"{paddleclas_peer.install_hint()}", pytrace=False)
    return root


@pytest.fixture(scope="session")
def paddleclas_home():
    """A PaddleClas checkout (``$PADDLECLAS_HOME``), for tests that compare with it."""
    return paddleclas_checkout(required=True)


@pytest.fixture(scope="session")
def paddleclas_if_any():
    """The PaddleClas checkout for tests that add PaddleClas's rows when there is one:
    None without one, outside CI."""
    return paddleclas_checkout(required=False)


def gpu_missing():
    """Why ``gpu``-marked tests cannot run here, or None when they can."""
    import paddle

    if not paddle.is_compiled_with_cuda():
        return "needs a CUDA build of Paddle (paddlepaddle-gpu); this one is CPU-only"
    if paddle.device.cuda.device_count() == 0:
        return "needs a GPU; Paddle has CUDA but sees none"
    return None


def pytest_collection_modifyitems(config, items):
    gpu_tests = [item for item in items if item.get_closest_marker("gpu")]
    why = gpu_missing() if gpu_tests else None
    if why:
        for item in gpu_tests:
            item.add_marker(pytest.mark.skip(reason=f"gpu test: {why}"))
