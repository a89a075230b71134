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
