"""Bad config on the command line, and paths a config names that do not exist or
do not fit: one clear, located line before any work starts and nothing written."""

import itertools
import os
import re

import numpy as np
import paddle
import pytest

from paddle_googlenet import GoogLeNet
from paddle_googlenet.weights import checkpoint
from paddle_googlenet.cli import train_main
from paddle_googlenet.engine.runtime import rng_state
from helpers import argv_of, one_error, train_cli
from tiny import DEFAULT_CONFIG, tiny_overrides

# ------------------------------------------------------------------ config on the command line

CONFIG_WITH_A_TYPE_ERROR = open(DEFAULT_CONFIG).read().replace("use_visualdl: False",
                                                               "use_visualdl: sometimes")


@pytest.mark.parametrize("config_text, options, expected", [
    (None, ["Globl.epochs=1"], r"^error: unknown section 'Globl' \(did you mean 'Global'\?\)"
                               r".* \(set by -o Globl\.epochs=1\)$"),
    ("Global: {epochs: 1}\nArch: {name: GoogLeNet}\nGlobl: {seed: 1}\n", [],
     r"^error: .*c\.yaml:3: unknown section 'Globl' \(did you mean 'Global'\?\)"),
    (None, ["Global.epoch=1"], r"Global\.epoch: unknown key \(did you mean 'epochs'\?\).* "
                               r"\(set by -o Global\.epoch=1\)$"),
    (None, ["Global.epochs=many"], r"Global\.epochs: expected int, got 'many' .*\(set by -o "),
    (None, ["Global.epochs"], r"override 'Global\.epochs': expected Section\.key=value"),
    (None, ["epochs=3"], r"^error: override 'epochs=3' needs a section: did you mean "
                         r"Global\.epochs\?$"),
    (None, ["Optimizer.lr.learning_rat=0.1"],
     r"Optimizer\.lr\.learning_rat: Cosine has no such argument \(did you mean "
     r"'learning_rate'\?\)"),
    (None, ["DataLoader.Train.sampler.batch_size=64", "DataLoader.Train.sampler.drop_last=True"],
     r"batch_size 64 is larger than the 12 samples .*drop_last.*\(set by -o "),
    ("", [], r"config file not found: .*c\.yaml$"),
    ("Global:\n  epochs: [1\nArch: {name: GoogLeNet}\n", [], r"c\.yaml:3:\d+: YAML syntax error"),
    (CONFIG_WITH_A_TYPE_ERROR, [], r"c\.yaml:18: Global\.use_visualdl: expected bool, got "
                                   r"'sometimes'"),
], ids=["unknown-section", "unknown-section-in-file", "unknown-key", "wrong-type", "bad-override", "no-section",
        "unknown-nested-key",
        "batch-larger-than-data", "missing-file", "yaml-syntax", "wrong-type-in-file"])
def test_config_errors_are_one_located_line(tiny_data, tmp_path, capfd, config_text, options,
                                            expected):
    """``config_text``: None for configs/googlenet.yaml, "" for a missing file."""
    config = DEFAULT_CONFIG if config_text is None else str(tmp_path / "c.yaml")
    if config_text:
        with open(config, "w") as f:
            f.write(config_text)
    out = str(tmp_path / "out")
    capfd.readouterr()
    code = train_main(["-c", config, *itertools.chain.from_iterable(
        ["-o", o] for o in tiny_overrides(tiny_data, out) + options)])
    assert code == 2
    assert re.search(expected, one_error(capfd.readouterr().err))
    assert not os.path.exists(out)


def test_debug_shows_the_traceback(tiny_data, tmp_path, capfd):
    code = train_main(argv_of(tiny_overrides(tiny_data, str(tmp_path))
                              + ["Global.epochs=many"]) + ["--debug"])
    err = capfd.readouterr().err
    assert code == 2 and "Traceback" in err and "Global.epochs: expected int" in err



# ------------------------------------------------------------------ paths and sizes the config names


@pytest.mark.parametrize("extra, expected", [
    ({"DataLoader.Train.dataset.image_root": "/nonexistent/images"},
     r"DataLoader\.Train\.dataset: image_root /nonexistent/images does not exist"),
    ({"Arch.adaptive_pool": False},
     r"DataLoader\.Train\.dataset\.transform_ops \(images of shape \[3, 64, 64\]\): GoogLeNet "
     r"with fixed-pool heads expects \[N, 3, 224, 224\].*adaptive_pool=True"),
    ({"Global.output_dir": "{tmp}/a_file/out"},
     r"Global\.output_dir: cannot write to .*/a_file/out/GoogLeNet: Not a directory"),
    ({"Global.pretrained_model": "/nonexistent/weights"},
     r"Global\.pretrained_model: weights file not found: '/nonexistent/weights'"),
    ({"Global.checkpoints": "/nonexistent/epoch_3"},
     r"Global\.checkpoints: checkpoint '/nonexistent/epoch_3' is incomplete or missing"),
], ids=["missing-image-root", "input-size", "unwritable-output-dir", "missing-pretrained",
        "missing-checkpoint"])
def test_paths_and_sizes_fail_before_anything_is_written(tiny_data, tmp_path, capfd, extra,
                                                          expected):
    (tmp_path / "a_file").write_text("a file, not a directory")
    out = str(tmp_path / "out")
    extra = {key: value.format(tmp=tmp_path) if isinstance(value, str) else value
             for key, value in extra.items()}
    code, err = train_cli(capfd, tiny_overrides(tiny_data, out, **extra))
    assert code == 2
    assert re.search(expected, one_error(err))
    assert not os.path.exists(out) and not os.path.exists(tmp_path / "a_file" / "out")


@pytest.mark.slow
def test_checkpoint_of_another_network_names_parameter_and_shapes(tiny_data, tmp_path, capfd):
    ten_classes = GoogLeNet(num_classes=10, adaptive_pool=True)
    optimizer = paddle.optimizer.Adam(parameters=ten_classes.parameters())
    saved, _ = checkpoint.save_checkpoint(str(tmp_path), 1, ten_classes, optimizer,
                                       {"rng": rng_state()})
    run = os.path.join(str(tmp_path / "six"), "GoogLeNet")
    code, err = train_cli(capfd, tiny_overrides(tiny_data, str(tmp_path / "six"),
                                                **{"Global.checkpoints": saved}))
    assert code == 2
    assert re.search(r"Global\.checkpoints: .*parameter 'head\.fc\.weight' has shape "
                     r"\[1024, 10\] in the file but \[1024, 6\] in the model", one_error(err))
    assert not os.path.exists(run)


@pytest.mark.parametrize("value, integer, number", [
    (3, True, True), (np.int64(3), True, True), (2.5, False, True), (np.float32(2.5), False, True),
    (True, False, False), (False, False, False), ("3", False, False), (None, False, False)])
def test_one_rule_says_a_bool_is_neither_an_integer_nor_a_number(value, integer, number):
    from paddle_googlenet.validators import is_int, is_number

    assert is_int(value) is integer and is_number(value) is number
