"""tools/eval.py, predict.py and export_model.py refuse weights whose heads are for
another class count than the config's (re-initialised heads would give noise), say
both counts and the fix, exit 2 and write nothing."""

import os

import paddle
import pytest

from paddle_googlenet.cli import eval_main, export_main, predict_main
from paddle_googlenet.models import GoogLeNet
from tiny import DEFAULT_CONFIG, tiny_overrides


@pytest.fixture(scope="module")
def six_class_weights(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("weights") / "six.pdparams")
    paddle.save(GoogLeNet(num_classes=6, adaptive_pool=True).state_dict(), path)
    return path


def argv(tiny_data, out, weights, **extra):
    options = tiny_overrides(tiny_data, out, **{
        "Global.pretrained_model": weights, "Arch.class_num": 3,
        "Global.save_inference_dir": os.path.join(out, "inference"),
        "Infer.infer_imgs": os.path.join(tiny_data, "images", "val"),
        "Infer.PostProcess.class_id_map_file": os.path.join(tiny_data, "label_list.txt"),
        **extra})
    return ["-c", DEFAULT_CONFIG, *sum((["-o", o] for o in options), [])]


@pytest.mark.parametrize("main", [eval_main, predict_main, export_main],
                         ids=["eval", "predict", "export"])
@pytest.mark.slow
def test_weights_of_another_class_count_are_refused(main, tiny_data, six_class_weights,
                                                    tmp_path, capsys):
    out = str(tmp_path / "out")
    capsys.readouterr()
    assert main(argv(tiny_data, out, six_class_weights)) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    # every tool in the same words, naming the config key that gave the weights
    assert err.startswith(f"error: Global.pretrained_model: {six_class_weights}: the "
                          f"weights' heads are for 6 classes but the model has 3")
    assert "-o Arch.class_num=6" in err
    assert "Traceback" not in err and len(err.splitlines()) == 1
    assert "score" not in captured.out
    assert not os.path.exists(out)  # no run directory, no export, nothing half-written


@pytest.mark.slow
def test_training_still_fine_tunes_from_another_class_count(tiny_data, tmp_path):
    """The same mismatch when training is fine-tuning: heads re-initialised, a warning."""
    from paddle_googlenet.config import load_config
    from paddle_googlenet.engine import Engine

    three = str(tmp_path / "three.pdparams")
    paddle.save(GoogLeNet(num_classes=3, adaptive_pool=True).state_dict(), three)
    options = tiny_overrides(tiny_data, str(tmp_path / "out"),
                             **{"Global.pretrained_model": three})
    with pytest.warns(UserWarning, match="left at initialisation.*head.fc.weight"):
        engine = Engine(load_config(DEFAULT_CONFIG, options), mode="train")
    assert engine.network.head.fc.weight.shape == [1024, 6]
