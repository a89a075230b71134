"""ImageNetDataset, ImageFolderDataset and build_dataloader on tiny images in tmp_path."""

import copy
import os

import numpy as np
import paddle
import pytest
from PIL import Image

from paddle_googlenet.data import (DATASETS, EpochDataLoader, ImageFolderDataset,
                                   ImageNetDataset, build_dataloader)
from paddle_googlenet.errors import ConfigError, DataError

PIPELINE = [
    {"DecodeImage": {"to_rgb": True, "channel_first": False}},
    {"RandCropImage": {"size": 8, "scale": [0.5, 1.0]}},
    {"RandFlipImage": {"flip_code": 1}},
    {"NormalizeImage": {"scale": "1.0/255.0", "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5],
                        "order": ""}},
]


def write_image(path, value, size=(12, 10), fmt=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    rng = np.random.default_rng(value)
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    pixels[0, 0] = value  # lets a test tell images apart
    Image.fromarray(pixels).save(path, fmt or ("PNG" if path.endswith(".png") else "JPEG"))


@pytest.fixture
def image_list(tmp_path):
    """``root/images/img_<i>.png`` for i < 10 with labels i % 3, and the list file."""
    root = tmp_path / "data"
    lines = []
    for i in range(10):
        write_image(str(root / "images" / f"img_{i}.png"), i)
        lines.append(f"images/img_{i}.png {i % 3}")
    list_path = root / "train_list.txt"
    list_path.write_text("\n".join(lines) + "\n\n")
    return root, list_path


def write_list(root, text, name="list.txt"):
    path = root / name
    path.write_text(text)
    return str(path)


# ------------------------------------------------------------------ ImageNetDataset

def test_imagenet_dataset_samples_and_items(image_list):
    root, list_path = image_list
    dataset = ImageNetDataset(str(root), str(list_path), transform_ops=PIPELINE, class_num=3)
    assert len(dataset) == 10
    assert dataset.labels.tolist() == [i % 3 for i in range(10)]
    assert dataset.samples[4] == (os.path.join(str(root), "images", "img_4.png"), 1)
    image, label = dataset[4]
    assert image.shape == (3, 8, 8) and image.dtype == np.float32  # HWC pipeline made CHW
    assert -1.0 <= image.min() and image.max() <= 1.0
    assert isinstance(label, np.int64) and label == 1


def test_imagenet_dataset_decode_only_by_default(image_list):
    root, list_path = image_list
    image, label = ImageNetDataset(str(root), str(list_path))[2]
    assert image.shape == (3, 10, 12) and image.dtype == np.uint8
    assert image[:, 0, 0].tolist() == [2, 2, 2] and label == 2


def test_imagenet_dataset_keeps_chw_pipelines(image_list):
    root, list_path = image_list
    dataset = ImageNetDataset(str(root), str(list_path),
                              transform_ops=[{"DecodeImage": None}, {"ToCHWImage": None}])
    assert dataset[0][0].shape == (3, 10, 12)


def test_imagenet_dataset_delimiter_and_spaces_in_paths(tmp_path):
    write_image(str(tmp_path / "my images" / "a b.png"), 1)
    write_image(str(tmp_path / "c.png"), 2)
    comma = write_list(tmp_path, "my images/a b.png,0\n\n  \nc.png, 1\n")
    assert ImageNetDataset(str(tmp_path), comma, delimiter=",").labels.tolist() == [0, 1]
    spaces = write_list(tmp_path, "my images/a b.png 0\nc.png\t1\n", "spaces.txt")
    assert ImageNetDataset(str(tmp_path), spaces).samples[0][0].endswith("a b.png")


def test_bad_line_names_file_and_line(image_list):
    root, _ = image_list
    path = write_list(root, "images/img_0.png 0\n\nimages/img_1.png\n")
    with pytest.raises(DataError) as err:
        ImageNetDataset(str(root), path)
    assert f"{path}:3" in str(err.value) and "expected 'path label'" in str(err.value)


@pytest.mark.parametrize("label, reason", [("x", "not an integer"), ("1.5", "not an integer"),
                                           ("-2", "negative")])
def test_bad_labels(image_list, label, reason):
    root, _ = image_list
    path = write_list(root, f"images/img_0.png 0\nimages/img_1.png {label}\n")
    with pytest.raises(DataError, match=reason) as err:
        ImageNetDataset(str(root), path)
    assert f"{path}:2" in str(err.value) and "1 bad line" in str(err.value)


def test_labels_beyond_class_num_report_count_and_first_five(image_list):
    root, _ = image_list
    lines = ["images/img_0.png 0"] + [f"images/img_{i}.png {3 + i}" for i in range(1, 8)]
    path = write_list(root, "\n".join(lines))
    ImageNetDataset(str(root), path)  # fine without class_num
    with pytest.raises(DataError) as err:
        ImageNetDataset(str(root), path, class_num=3)
    message = str(err.value)
    assert "7 bad line(s) (first 5 shown)" in message and "not below class_num 3" in message
    for line in range(2, 7):
        assert f"{path}:{line}:" in message
    assert f"{path}:7:" not in message and f"{path}:8:" not in message


def test_empty_list(image_list):
    root, _ = image_list
    with pytest.raises(DataError, match="lists no images"):
        ImageNetDataset(str(root), write_list(root, "\n  \n"))


def test_missing_paths(image_list, tmp_path):
    root, list_path = image_list
    with pytest.raises(DataError, match="image_root .*nowhere does not exist"):
        ImageNetDataset(str(tmp_path / "nowhere"), str(list_path))
    with pytest.raises(DataError, match="cls_label_path .*missing.txt"):
        ImageNetDataset(str(root), str(root / "missing.txt"))
    with pytest.raises(DataError, match="is image_root .* right"):
        ImageNetDataset(str(root / "images"), str(list_path))


def test_bad_arguments(image_list):
    root, list_path = image_list
    with pytest.raises(ConfigError, match="class_num"):
        ImageNetDataset(str(root), str(list_path), class_num=0)
    with pytest.raises(ConfigError, match="must start with DecodeImage"):
        ImageNetDataset(str(root), str(list_path), transform_ops=[])


@pytest.fixture
def list_with_bad_images(image_list):
    """Entries 1, 2 and 3 are a text file, a truncated JPEG and a missing file."""
    root, _ = image_list
    (root / "images" / "notes.jpg").write_text("not an image")
    write_image(str(root / "images" / "cut.jpg"), 5, size=(64, 64))
    data = (root / "images" / "cut.jpg").read_bytes()
    (root / "images" / "cut.jpg").write_bytes(data[:len(data) // 2])
    text = ("images/img_0.png 0\nimages/notes.jpg 1\nimages/cut.jpg 2\nimages/gone.png 0\n"
            "images/img_4.png 1\n")
    return root, write_list(root, text)


@pytest.mark.parametrize("index, name, reason", [(1, "notes.jpg", "not an image"),
                                                 (2, "cut.jpg", "truncated"),
                                                 (3, "gone.png", "file not found")])
def test_bad_image_raises_with_full_path(list_with_bad_images, index, name, reason):
    root, path = list_with_bad_images
    dataset = ImageNetDataset(str(root), path)
    with pytest.raises(DataError, match=reason) as err:
        dataset[index]
    assert os.path.join(str(root), "images", name) in str(err.value)
    assert f"{path}:{index + 1}" in str(err.value)


def test_skip_bad_images_substitutes_next_and_counts(list_with_bad_images):
    root, path = list_with_bad_images
    dataset = ImageNetDataset(str(root), path, skip_bad_images=True)
    image, label = dataset[1]
    assert image[:, 0, 0].tolist() == [4, 4, 4] and label == 1  # entry 4, img_4.png
    dataset[2]
    assert [os.path.basename(p) for p in dataset.bad_images] == ["notes.jpg", "cut.jpg",
                                                                 "gone.png"]
    dataset[1]
    assert len(dataset.bad_images) == 3  # each path recorded once


def test_skip_bad_images_all_bad(tmp_path):
    (tmp_path / "a.jpg").write_text("nope")
    dataset = ImageNetDataset(str(tmp_path), write_list(tmp_path, "a.jpg 0\nb.jpg 0\n"),
                              skip_bad_images=True)
    with pytest.raises(DataError, match="none of the 2 images"):
        dataset[0]


def test_pipeline_errors_are_not_skipped(image_list):
    root, list_path = image_list
    dataset = ImageNetDataset(str(root), str(list_path), skip_bad_images=True,
                              transform_ops=[{"DecodeImage": None}, {"CropImage": {"size": 50}}])
    with pytest.raises(DataError, match="img_0.png.*does not fit"):
        dataset[0]
    assert dataset.bad_images == []


# --------------------------------------------------------------- ImageFolderDataset

def test_image_folder_dataset(tmp_path):
    write_image(str(tmp_path / "dog" / "a.png"), 1)
    write_image(str(tmp_path / "dog" / "nested" / "b.JPG"), 2, fmt="JPEG")
    write_image(str(tmp_path / "cat" / "c.png"), 3)
    (tmp_path / "cat" / "readme.txt").write_text("not an image")
    write_image(str(tmp_path / ".hidden" / "d.png"), 4)
    (tmp_path / "loose.png").write_bytes(b"ignored: not in a class folder")
    dataset = ImageFolderDataset(str(tmp_path), transform_ops=PIPELINE)
    assert dataset.class_names == ["cat", "dog"]
    assert [(os.path.relpath(p, tmp_path), label) for p, label in dataset.samples] == [
        (os.path.join("cat", "c.png"), 0), ("dog/a.png", 1),
        (os.path.join("dog", "nested", "b.JPG"), 1)]
    assert dataset.labels.tolist() == [0, 1, 1]
    image, label = dataset[2]
    assert image.shape == (3, 8, 8) and image.dtype == np.float32 and label == 1
    assert DATASETS.names() == ["ImageFolder", "ImageFolderDataset", "ImageNetDataset",
                               "MultiScaleDataset"]
    assert (DATASETS.get("ImageFolder", "test") is DATASETS.get("ImageFolderDataset", "test")
            is ImageFolderDataset)


def test_image_folder_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        ImageFolderDataset(str(tmp_path / "missing"))
    with pytest.raises(DataError, match="no class directories"):
        ImageFolderDataset(str(tmp_path))
    write_image(str(tmp_path / "a" / "x.png"), 1)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "notes.txt").write_text("no images here")
    with pytest.raises(DataError, match="without images .*: b;"):
        ImageFolderDataset(str(tmp_path))
    with pytest.raises(ConfigError, match="extensions"):
        ImageFolderDataset(str(tmp_path), extensions=".png")


def test_image_folder_skip_bad_images(tmp_path):
    write_image(str(tmp_path / "a" / "1.png"), 1)
    (tmp_path / "a" / "2.png").write_text("broken")
    dataset = ImageFolderDataset(str(tmp_path), skip_bad_images=True)
    assert dataset[1][0][:, 0, 0].tolist() == [1, 1, 1]
    assert dataset.bad_images == [str(tmp_path / "a" / "2.png")]
    # Without skipping, the file fails when the folders are read, naming its folder.
    with pytest.raises(DataError, match=r"/a: 1 unreadable image\(s\).*first 2.png"):
        ImageFolderDataset(str(tmp_path))


# ------------------------------------------------------------------ build_dataloader

def loader_cfg(root, list_path, sampler="BatchSampler", batch_size=4, shuffle=False,
               drop_last=False, num_workers=0, **dataset):
    return {"dataset": {"name": "ImageNetDataset", "image_root": str(root),
                        "cls_label_path": str(list_path), "transform_ops": copy.deepcopy(PIPELINE),
                        **dataset},
            "sampler": {"name": sampler, "batch_size": batch_size, "shuffle": shuffle,
                        "drop_last": drop_last},
            "loader": {"num_workers": num_workers, "use_shared_memory": False}}


def batches(loader):
    return [(images.numpy(), labels.numpy()) for images, labels in loader]


@pytest.mark.parametrize("sampler", ["BatchSampler", "DistributedBatchSampler"])
@pytest.mark.parametrize("drop_last, sizes", [(False, [4, 4, 2]), (True, [4, 4])])
def test_loader_batches(image_list, sampler, drop_last, sizes):
    loader = build_dataloader(loader_cfg(*image_list, sampler=sampler, drop_last=drop_last))
    assert isinstance(loader, paddle.io.DataLoader) and isinstance(loader, EpochDataLoader)
    assert isinstance(loader.batch_sampler, getattr(paddle.io, sampler))
    assert len(loader) == len(sizes)
    result = batches(loader)
    assert [len(labels) for _, labels in result] == sizes
    images, labels = result[0]
    assert images.shape == (4, 3, 8, 8) and images.dtype == np.float32
    assert labels.dtype == np.int64 and labels.tolist() == [0, 1, 2, 0]


def test_loader_batch_larger_than_dataset(image_list):
    with pytest.raises(ConfigError) as err:
        build_dataloader(loader_cfg(*image_list, batch_size=16, drop_last=True))
    assert "batch_size 16" in str(err.value) and "10 samples" in str(err.value)
    assert "DataLoader.Train.sampler" in str(err.value)
    loader = build_dataloader(loader_cfg(*image_list, batch_size=16))  # one short batch
    assert [len(labels) for _, labels in batches(loader)] == [10]


def _shuffled_batches(image_list, seed, **kwargs):
    loader = build_dataloader(loader_cfg(*image_list, shuffle=True, **kwargs), seed=seed)
    return [batches(loader) for _ in range(2)]  # two epochs


def _same(run_a, run_b):
    return all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
               for epoch_a, epoch_b in zip(run_a, run_b) for a, b in zip(epoch_a, epoch_b))


@pytest.mark.parametrize("sampler", ["BatchSampler", "DistributedBatchSampler"])
def test_loader_seed_makes_epochs_reproducible(image_list, sampler):
    first = _shuffled_batches(image_list, seed=3, sampler=sampler)
    second = _shuffled_batches(image_list, seed=3, sampler=sampler)
    assert _same(first, second)
    assert not _same(first, _shuffled_batches(image_list, seed=4, sampler=sampler))
    epoch0, epoch1 = ([labels for _, labels in epoch] for epoch in first)
    assert any(not np.array_equal(a, b) for a, b in zip(epoch0, epoch1))  # reshuffled


def test_loader_set_epoch_resumes(image_list):
    full = _shuffled_batches(image_list, seed=5)
    loader = build_dataloader(loader_cfg(*image_list, shuffle=True), seed=5)
    loader.set_epoch(1)
    assert _same([full[1]], [batches(loader)])


@pytest.mark.parametrize("sampler", ["BatchSampler", "DistributedBatchSampler"])
def test_loader_follows_batch_sampler_set_epoch(image_list, sampler):
    """PaddleClas engines call ``loader.batch_sampler.set_epoch(epoch)``; it must count."""
    full = _shuffled_batches(image_list, seed=5, sampler=sampler)
    loader = build_dataloader(loader_cfg(*image_list, sampler=sampler, shuffle=True), seed=5)
    loader.batch_sampler.set_epoch(1)
    assert _same([full[1]], [batches(loader)])
    assert loader.epoch == 2
    batches(loader)  # no further set_epoch: the loader keeps counting
    assert loader.epoch == 3


def test_loader_workers_give_the_same_samples_as_the_main_process(image_list):
    in_process = _shuffled_batches(image_list, seed=9)
    with_workers = _shuffled_batches(image_list, seed=9, num_workers=2)
    assert _same(in_process, with_workers)


@pytest.mark.parametrize("change, message", [
    (lambda c: c["dataset"].update(name="CocoDataset"),
     r"^DataLoader\.Train\.dataset\.name: unknown dataset 'CocoDataset'; valid: ImageFolder, "
     r"ImageFolderDataset, ImageNetDataset, MultiScaleDataset$"),
    (lambda c: c["dataset"].update(name="ImageNetDatset"),
     r"^DataLoader\.Train\.dataset\.name: unknown dataset 'ImageNetDatset' \(did you mean "
     r"'ImageNetDataset'\?\); valid: ImageFolder, ImageFolderDataset, ImageNetDataset, "
     r"MultiScaleDataset$"),
    (lambda c: c["dataset"].pop("name"),
     r"^DataLoader\.Train\.dataset\.name: unknown dataset None; valid: ImageFolder, "),
    (lambda c: c["sampler"].update(name="PKSampler"),
     r"^DataLoader\.Train\.sampler\.name: unknown sampler 'PKSampler'.*; valid: BatchSampler, "
     r"DistributedBatchSampler, MultiScaleSampler, RASampler$"),
    (lambda c: c["sampler"].pop("batch_size"),
     r"^DataLoader\.Train\.sampler: BatchSampler needs batch_size$"),
    (lambda c: c["sampler"].update(batch_size=0), r"sampler.batch_size must be a positive"),
    (lambda c: c["sampler"].update(batch_size=2.0),
     r"^DataLoader\.Train\.sampler\.batch_size: expected int, got 2\.0"),
    (lambda c: c["sampler"].update(shuffle="yes"),
     r"^DataLoader\.Train\.sampler\.shuffle: expected bool, got 'yes'"),
    (lambda c: c["sampler"].update(sampler_seed=1),
     r"^DataLoader\.Train\.sampler\.sampler_seed: BatchSampler has no such argument; valid: "
     r"batch_size, shuffle, drop_last$"),
    (lambda c: c["sampler"].update(seed=1),
     r"^DataLoader\.Train\.sampler\.seed: BatchSampler has no such argument; valid: "
     r"batch_size, shuffle, drop_last$"),
    (lambda c: c["loader"].update(num_workers=-1), r"loader.num_workers"),
    (lambda c: c["loader"].update(use_shared_memory="no"),
     r"^DataLoader\.Train\.loader\.use_shared_memory: expected bool, got 'no'"),
    (lambda c: c.pop("sampler"), r"DataLoader.Train.sampler is missing"),
    (lambda c: c.update(batch_transform_ops=[]), r"unknown key 'batch_transform_ops'"),
    (lambda c: c["dataset"].update(relabel=True),
     r"^DataLoader\.Train\.dataset\.relabel: ImageNetDataset has no such argument; valid: "
     r"image_root, cls_label_path, transform_ops, delimiter, class_num, skip_bad_images$"),
    (lambda c: c["dataset"].update(class_nums=3),
     r"^DataLoader\.Train\.dataset\.class_nums: ImageNetDataset has no such argument \(did "
     r"you mean 'class_num'\?\); valid: image_root, cls_label_path, transform_ops, "),
    (lambda c: c["dataset"].pop("cls_label_path"),
     r"^DataLoader\.Train\.dataset: ImageNetDataset needs cls_label_path$"),
    (lambda c: c["dataset"].update(class_num="3"),
     r"^DataLoader\.Train\.dataset\.class_num: expected int or null, got '3'"),
    (lambda c: c["dataset"]["transform_ops"].append({"AugMix": None}),
     r"^DataLoader\.Train\.dataset\.transform_ops\.4\.AugMix: unknown transform op "
     r"'AugMix'; valid: .*\bCropImage, .*\bDecodeImage, "),
    (lambda c: c["dataset"]["transform_ops"][1]["RandCropImage"].update(sise=8),
     r"^DataLoader\.Train\.dataset\.transform_ops\.1\.RandCropImage\.sise: RandCropImage has "
     r"no such argument \(did you mean 'size'\?\); valid: size, scale, ratio, interpolation, "
     r"backend, use_log_aspect, progress_size$"),
    (lambda c: c["dataset"].update(class_num=-1), r"DataLoader.Train.dataset: "
                                                  r"class_num"),
])
def test_loader_config_errors(image_list, change, message):
    cfg = loader_cfg(*image_list)
    change(cfg)
    with pytest.raises(ConfigError, match=message):
        build_dataloader(cfg)


def test_loader_dataset_errors_are_located(image_list, tmp_path):
    cfg = loader_cfg(tmp_path / "nowhere", image_list[1])
    with pytest.raises(DataError, match=r"DataLoader.Eval.dataset: image_root .*nowhere does not exist"):
        build_dataloader(cfg, where="DataLoader.Eval", training=False)


def test_loader_bad_seed(image_list):
    with pytest.raises(ConfigError, match="seed"):
        build_dataloader(loader_cfg(*image_list), seed=-1)


def test_loader_image_folder(tmp_path):
    for i in range(5):
        write_image(str(tmp_path / ("a" if i < 3 else "b") / f"{i}.png"), i)
    cfg = {"dataset": {"name": "ImageFolder", "image_root": str(tmp_path),
                       "transform_ops": PIPELINE},
           "sampler": {"name": "DistributedBatchSampler", "batch_size": 5}}
    (images, labels), = batches(build_dataloader(cfg, distributed=False))
    assert images.shape == (5, 3, 8, 8) and labels.tolist() == [0, 0, 0, 1, 1]
