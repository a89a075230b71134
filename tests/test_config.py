"""Config loading, overrides and validation."""

import os

import pytest
import yaml

from paddle_googlenet.config import (apply_overrides, dump_config, load_config, parse_value,
                                     validate_config)
from paddle_googlenet.errors import ConfigError
from tiny import DEFAULT_CONFIG, ROOT

BASE = """
Global:
  epochs: 2
  image_shape: [3, 64, 64]
Arch:
  name: GoogLeNet
  class_num: 4
Optimizer:
  name: Momentum
  lr: {name: Cosine, learning_rate: 0.01}
DataLoader:
  Train:
    dataset:
      name: ImageNetDataset
      image_root: ./data/
      cls_label_path: ./data/train.txt
      transform_ops:
        - DecodeImage: {to_rgb: True}
        - RandCropImage: {size: 224}
        - NormalizeImage: {scale: 1.0/255.0, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5]}
    sampler: {name: BatchSampler, batch_size: 8}
Metric:
  Eval:
    - TopkAcc: {topk: [1, 5]}
"""


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(BASE)
    return str(path)


def test_load_fills_defaults(config_file):
    cfg = load_config(config_file)
    assert cfg["Global"]["epochs"] == 2
    assert cfg["Global"]["device"] == "auto" and cfg["Global"]["save_interval"] == 1
    assert cfg["AMP"]["use_amp"] is False
    # PaddleClas's scale string stays a string for NormalizeImage to read.
    ops = cfg["DataLoader"]["Train"]["dataset"]["transform_ops"]
    assert ops[2]["NormalizeImage"]["scale"] == "1.0/255.0"


@pytest.mark.parametrize("text, value", [
    ("3", 3), ("0.1", 0.1), ("[1, 5]", [1, 5]), ("True", True), ("false", False),
    ("null", None), ("None", None), ("./out/dir", "./out/dir"), ("1e-4", 1e-4),
    ("'quoted'", "quoted"), ("O1", "O1"), ("1.0/255.0", "1.0/255.0"),
])
def test_parse_value(text, value):
    assert parse_value(text) == value


def test_override_forms(config_file):
    cfg = load_config(config_file, [
        "Global.epochs=5",
        "Global.output_dir=./elsewhere",
        "Arch.adaptive_pool=True",
        "Optimizer.lr.learning_rate=0.05",
        "DataLoader.Train.dataset.transform_ops.1.RandCropImage.size=192",
        "DataLoader.Train.dataset.transform_ops.-1.NormalizeImage.mean=[0.4, 0.4, 0.4]",
        "Metric.Eval.0.TopkAcc.topk=[1, 2]",
        "AMP.use_amp=True",          # a section the file does not have
        "Global.seed=7",             # a valid key the file does not have
        "Global.pretrained_model=a=b.pdparams",  # '=' inside the value
    ])
    g = cfg["Global"]
    assert (g["epochs"], g["output_dir"], g["seed"]) == (5, "./elsewhere", 7)
    assert g["pretrained_model"] == "a=b.pdparams"
    assert cfg["Arch"]["adaptive_pool"] is True
    assert cfg["Optimizer"]["lr"]["learning_rate"] == 0.05
    ops = cfg["DataLoader"]["Train"]["dataset"]["transform_ops"]
    assert ops[1]["RandCropImage"]["size"] == 192
    assert ops[2]["NormalizeImage"]["mean"] == [0.4, 0.4, 0.4]
    assert cfg["Metric"]["Eval"][0]["TopkAcc"]["topk"] == [1, 2]
    assert cfg["AMP"]["use_amp"] is True


@pytest.mark.parametrize("option, match", [
    ("Global.epochs", r"expected Section.key=value"),
    ("=3", r"expected Section.key=value"),
    ("Global..epochs=3", r"expected Section.key=value"),
    ("Global.epochs.x=3", r"Global.epochs is a value"),
    ("DataLoader.Train.dataset.transform_ops.7.RandCropImage.size=1", r"index 7 is out of range"),
    ("DataLoader.Train.dataset.transform_ops.first.size=1", r"index it with a number"),
])
def test_bad_override(config_file, option, match):
    with pytest.raises(ConfigError, match=match):
        load_config(config_file, [option])


@pytest.mark.parametrize("option, match", [
    ("Global.epoch=3", r"Global.epoch: unknown key \(did you mean 'epochs'\?\)"),
    ("Globals.epochs=3", r"unknown section 'Globals' \(did you mean 'Global'\?\)"),
    ("Global.epochs=three", r"Global.epochs: expected int, got 'three'"),
    ("Global.epochs=0", r"Global.epochs: must be at least 1"),
    ("Global.device=tpu", r"Global.device: expected .*auto.*cpu.*gpu.*got 'tpu'"),
    ("Global.image_shape=[64, 64]", r"Global.image_shape: expected \[3, H, W\]"),
    ("Global.eval_during_train=maybe", r"Global.eval_during_train: expected bool"),
    ("AMP.level=O3", r"AMP.level: expected"),
    ("DataLoader.Test.dataset=1", r"DataLoader.Test: unknown key"),
    ("DataLoader.Train.sampler=8", r"DataLoader.Train.sampler: expected a mapping"),
    ("DataLoader.Train.dataset.transform_ops=RandCrop", r"transform_ops: expected a list"),
    ("Loss.Train=[{'CELoss': 1}]", r"Loss.Train.0.CELoss: arguments must be a mapping"),
    ("Global.class_num=5", r"Global.class_num is 5 but Arch.class_num is 4"),
])
def test_validation_errors_name_key_and_valid_values(config_file, option, match):
    with pytest.raises(ConfigError, match=match):
        load_config(config_file, [option])


def test_global_class_num_reaches_arch(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("Global: {epochs: 1, class_num: 9}\nArch: {name: GoogLeNet}\n")
    assert load_config(str(path))["Arch"]["class_num"] == 9


def test_missing_file_and_yaml_syntax_error(tmp_path):
    with pytest.raises(ConfigError, match="config file not found: .*nope.yaml"):
        load_config(str(tmp_path / "nope.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("Global:\n  epochs: 1\n  image_shape: [3, 64, 64\nArch: {name: GoogLeNet}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:\d+:\d+: YAML syntax error"):
        load_config(str(bad))
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="a config is a mapping of sections"):
        load_config(str(listing))


def test_missing_required_keys(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("Global: {output_dir: x}\nArch: {name: GoogLeNet}\n")
    with pytest.raises(ConfigError, match="Global.epochs: required key is missing"):
        load_config(str(path))
    path.write_text("Global: {epochs: 1}\n")
    with pytest.raises(ConfigError, match="Arch: missing"):
        load_config(str(path))


def test_dump_round_trips(config_file):
    cfg = load_config(config_file)
    again = yaml.safe_load(dump_config(cfg))
    assert again == cfg
    assert list(again)[:2] == ["Global", "AMP"]


def test_apply_overrides_keeps_strings_that_are_not_literals():
    cfg = {"Global": {"output_dir": "x"}}
    apply_overrides(cfg, ["Global.output_dir=/tmp/run 1"])
    assert cfg["Global"]["output_dir"] == "/tmp/run 1"


def test_override_without_a_section_says_so(config_file):
    with pytest.raises(ConfigError, match=r"override 'epochs=3' needs a section: did you mean "
                                          r"Global\.epochs\?"):
        load_config(config_file, ["epochs=3"])
    with pytest.raises(ConfigError, match=r"override 'use_amp=True' needs a section: did you "
                                          r"mean AMP\.use_amp\?"):
        load_config(config_file, ["use_amp=True"])
    with pytest.raises(ConfigError, match=r"override 'lr=0\.1' needs a section: write "
                                          r"Section\.lr=value with one of the sections Global"):
        load_config(config_file, ["lr=0.1"])


def test_keep_checkpoints_defaults_to_two_and_must_be_positive(config_file):
    assert load_config(config_file)["Global"]["keep_checkpoints"] == 2
    assert load_config(config_file, ["Global.keep_checkpoints=5"])["Global"]["keep_checkpoints"] == 5
    with pytest.raises(ConfigError, match=r"Global\.keep_checkpoints: must be at least 1, got 0"):
        load_config(config_file, ["Global.keep_checkpoints=0"])


def test_a_packaged_config_is_found_by_name_and_a_path_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no configs/ here: the name finds the packaged one
    by_name = load_config("googlenet")
    assert by_name == load_config("googlenet.yaml") == load_config(DEFAULT_CONFIG)
    (tmp_path / "googlenet").mkdir()  # a folder of that name does not hide it
    assert load_config("googlenet", ["Global.epochs=3"])["Global"]["epochs"] == 3
    with pytest.raises(ConfigError, match="config file not found: googlenett, nor a "
                                          "packaged config.*packaged configs: "
                                          "ImageNet/Inception/GoogLeNet, .*folders, googlenet$"):
        load_config("googlenett")
    with pytest.raises(ConfigError, match="config file not found: sub/googlenet$"):
        load_config("sub/googlenet")
    # a config in a folder of the packaged ones, by its name there
    paper = load_config("ImageNet/Inception/GoogLeNet_paper")
    assert paper == load_config(os.path.join(ROOT, "configs", "ImageNet", "Inception",
                                             "GoogLeNet_paper.yaml"))


@pytest.mark.parametrize("change, message", [
    (lambda split: 8, r"^DataLoader\.Train: expected a mapping with dataset, sampler and "
                      r"loader, got 8$"),
    (lambda split: dict(split, batch_transform_ops=[]),
     r"^DataLoader\.Train\.batch_transform_ops: unknown key 'batch_transform_ops'; valid "
     r"keys: dataset, sampler, loader$"),
    (lambda split: {"dataset": split["dataset"]},
     r"^DataLoader\.Train\.sampler is missing; it needs a name and a batch_size$"),
    (lambda split: dict(split, sampler=8), r"^DataLoader\.Train\.sampler: expected a mapping"),
    (lambda split: dict(split, loader=[1]), r"^DataLoader\.Train\.loader: expected a mapping"),
    (lambda split: dict(split, dataset=dict(split["dataset"], transform_ops=[])),
     r"^DataLoader\.Train\.dataset\.transform_ops: expected a list of one-key mappings"),
])
def test_the_config_and_the_loader_builder_refuse_a_split_alike(change, message):
    from paddle_googlenet.data import build_dataloader

    config = load_config(DEFAULT_CONFIG)
    split = change(config["DataLoader"]["Train"])
    config["DataLoader"]["Train"] = split
    with pytest.raises(ConfigError, match=message) as checked:
        validate_config(config)
    with pytest.raises(ConfigError) as built:
        build_dataloader(split, where="DataLoader.Train")
    assert str(built.value) == str(checked.value)
