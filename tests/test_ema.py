"""EMA: PaddleClas's moving average of the weights, used for evaluation and
best_model, checkpointed and resumed."""

import os

import numpy as np
import paddle
import pytest

from paddle_googlenet.config import load_config
from paddle_googlenet.engine import Engine
from paddle_googlenet.engine.averaging import WeightAverage
from paddle_googlenet.engine.multicrop import _networks
from paddle_googlenet.engine.predict import Predictor
from paddle_googlenet.errors import ConfigError
from paddle_googlenet.weights.checkpoint import evaluated_weights
from helpers import assert_same_params, params_of, read_records
from tiny import DEFAULT_CONFIG, tiny_overrides

# Far from PaddleClas's 0.9999 so that a few steps move the average measurably.
DECAY = 0.5


def ema_config(data, out, epochs, **extra):
    return load_config(DEFAULT_CONFIG, tiny_overrides(data, out, epochs, **{
        "EMA.decay": DECAY, **extra}))


def test_update_rule_and_swap():
    paddle.seed(1)
    net = paddle.nn.Linear(3, 2)
    start = net.weight.numpy().copy()
    average = WeightAverage(net, decay=0.9)
    with paddle.no_grad():
        net.weight.set_value(start + 1.0)
    average.update()
    expected = 0.9 * start + 0.1 * (start + 1.0)
    np.testing.assert_allclose(average.shadow["weight"].numpy(), expected, rtol=1e-6)
    with average.swapped_in():
        np.testing.assert_allclose(net.weight.numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(net.weight.numpy(), start + 1.0)  # restored


def test_bad_decay_is_a_config_error(tiny_data, tmp_path):
    with pytest.raises(ConfigError, match="EMA.decay"):
        ema_config(tiny_data, str(tmp_path), 1, **{"EMA.decay": 1.5})
    with pytest.raises(ConfigError, match="EMA.decy"):
        ema_config(tiny_data, str(tmp_path), 1, **{"EMA.decy": 0.9})


@pytest.mark.slow
def test_resume_with_ema_equals_uninterrupted_run(tiny_data, tmp_path):
    straight = str(tmp_path / "straight")
    Engine(ema_config(tiny_data, straight, 2)).train()
    split = str(tmp_path / "split")
    Engine(ema_config(tiny_data, split, 1)).train()
    first = os.path.join(split, "GoogLeNet", "latest")
    Engine(ema_config(tiny_data, split, 2, **{"Global.checkpoints": first})).train()

    for name in ("model.pdparams", "model_ema.pdparams"):
        assert_same_params(params_of(os.path.join(straight, "GoogLeNet", "latest", name)),
                           params_of(os.path.join(split, "GoogLeNet", "latest", name)))
    # The average is not the weights: the test above compares two different things.
    weights = params_of(os.path.join(straight, "GoogLeNet", "latest", "model.pdparams"))
    shadow = params_of(os.path.join(straight, "GoogLeNet", "latest", "model_ema.pdparams"))
    assert max(np.abs(weights[k] - shadow[k]).max() for k in weights) > 1e-4


@pytest.mark.slow
def test_evaluation_and_best_model_use_the_ema_weights(tiny_data, tmp_path):
    out = str(tmp_path / "run")
    # No warm-up and a larger rate, so the weights move away from their average.
    Engine(ema_config(tiny_data, out, 1, **{"Optimizer.lr.warmup_epoch": 0,
                                            "Optimizer.lr.learning_rate": 0.005})).train()
    run = os.path.join(out, "GoogLeNet")
    record = read_records(run)[0]
    ema_file = os.path.join(run, "latest", "model_ema.pdparams")
    assert "EMA: evaluation and best_model use" in open(os.path.join(run, "train.log")).read()

    def evaluate(weights):
        config = load_config(DEFAULT_CONFIG, tiny_overrides(
            tiny_data, str(tmp_path / "eval"), 1, **{
                "Global.pretrained_model": weights,
                "Infer.PostProcess.class_id_map_file": os.path.join(tiny_data, "label_list.txt")}))
        return Engine(config, mode="eval").evaluate()

    with_ema = evaluate(ema_file)
    assert record["eval_loss"] == pytest.approx(with_ema["loss"], abs=1e-5)
    assert record["eval_top1"] == pytest.approx(with_ema["top1"], abs=1e-6)
    own = evaluate(os.path.join(run, "latest", "model.pdparams"))
    assert abs(own["loss"] - with_ema["loss"]) > 1e-3  # the two really differ

    best = params_of(os.path.join(run, "best_model", "model.pdparams"))
    shadow = params_of(ema_file)
    for key in shadow:
        np.testing.assert_array_equal(best[key], shadow[key], err_msg=key)

    # A checkpoint evaluated, predicted from, ensembled or exported under the EMA
    # config gives its averaged weights: what the run evaluated and reported.
    checkpoint = os.path.join(run, "latest")
    config = load_config(DEFAULT_CONFIG, tiny_overrides(tiny_data, str(tmp_path / "eval"), 1, **{
        "EMA.decay": DECAY, "Global.pretrained_model": checkpoint,
        "Infer.PostProcess.class_id_map_file": os.path.join(tiny_data, "label_list.txt")}))
    engine = Engine(config, mode="eval")
    assert engine.evaluate()["loss"] == pytest.approx(with_ema["loss"], abs=1e-6)
    assert evaluated_weights(checkpoint, averaged=True) == ema_file
    assert evaluated_weights(checkpoint, averaged=False) == checkpoint
    predictor = Predictor(config)
    for name, value in predictor.model.net.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), shadow[name], err_msg=name)
    second = _networks(engine, [checkpoint, checkpoint])[1]
    for name, value in second.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), shadow[name], err_msg=name)
