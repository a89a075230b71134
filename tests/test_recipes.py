"""PaddleClas's training recipes, one config per feature family written in PaddleClas's
spelling (tests/data/recipes), each trained for one epoch on the tiny data."""

import collections
import os

import numpy as np
import pytest

from paddle_googlenet.config import load_config
from paddle_googlenet.engine import Engine
from helpers import read_records

RECIPES = os.path.join(os.path.dirname(__file__), "data", "recipes")


def recipe(name, data, out, **extra):
    overrides = [f"Global.output_dir={out}"]
    for split, listing in (("Train", "train_list.txt"), ("Eval", "val_list.txt")):
        overrides += [f"DataLoader.{split}.dataset.image_root={data}",
                      f"DataLoader.{split}.dataset.cls_label_path={data}/{listing}"]
    overrides += [f"{k}={v}" for k, v in extra.items()]
    return load_config(os.path.join(RECIPES, f"{name}.yaml"), overrides)


def trained_record(engine, out):
    engine.train()
    run = os.path.join(out, "GoogLeNet")
    records = read_records(run)
    assert len(records) == 1
    record = records[0]
    assert np.isfinite(record["train_loss"]) and np.isfinite(record["eval_loss"])
    assert 0.0 <= record["eval_top1"] <= 1.0 and record["eval_images"] == 6
    assert os.path.isfile(os.path.join(run, "best_model", "model.pdparams"))
    return run, record


@pytest.mark.slow
def test_deit_style_recipe_trains(tiny_data, tmp_path):
    engine = Engine(recipe("deit_style", tiny_data, str(tmp_path)))
    # AdamW leaves biases (one-dimensional) undecayed, as one_dim_param_no_weight_decay says.
    decays = {p.name: engine.optimizer._apply_decay_param_fun(p.name)
              for _, p in engine.network.named_parameters()}
    biases = [p.name for n, p in engine.network.named_parameters() if n.endswith(".bias")]
    assert biases and not any(decays[b] for b in biases)
    assert any(decays.values())
    # RASampler (num_repeats 2) draws repeated augmentations of the same images.
    images = [i % 12 for batch in engine.train_loader.batch_sampler for i in batch]
    counts = collections.Counter(images)
    assert len(images) == 12 and max(counts.values()) == 2
    trained_record(engine, str(tmp_path))


@pytest.mark.slow
def test_resnet_style_recipe_trains_with_ema_and_accumulation(tiny_data, tmp_path):
    engine = Engine(recipe("resnet_style", tiny_data, str(tmp_path)))
    run, record = trained_record(engine, str(tmp_path))
    # 12 images in batches of 2, two batches per optimizer step: 3 steps.
    assert engine.steps_per_epoch == 6
    assert os.path.isfile(os.path.join(run, "latest", "model_ema.pdparams"))
    log = open(os.path.join(run, "train.log"), encoding="utf-8").read()
    assert "update_freq" in log and "EMA" in log


@pytest.mark.slow
def test_mobilevit_style_recipe_trains_at_several_scales(tiny_data, tmp_path):
    engine = Engine(recipe("mobilevit_style", tiny_data, str(tmp_path)))
    assert engine.train_loader.batch_sampler.image_sizes == [(64, 64), (96, 96)]
    trained_record(engine, str(tmp_path))


def test_a_misspelt_recipe_key_fails_before_any_work_with_the_closest_name(tiny_data,
                                                                            tmp_path):
    config = recipe("resnet_style", tiny_data, str(tmp_path),
                    **{"Optimizer.lr.decay_epoch": "[30]"})
    with pytest.raises(Exception, match="decay_epochs"):
        Engine(config)
    assert not os.path.exists(os.path.join(str(tmp_path), "GoogLeNet"))
