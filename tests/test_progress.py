"""Progress of long work: a bar on a terminal, plain lines in a log or a pipe, and
every image of eval and predict counted."""

import io
import os
import re

import pytest

from paddle_googlenet.progress import Progress


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_plain_lines_in_a_log_say_how_far_how_fast_and_how_long():
    log = io.StringIO()
    with Progress(1000, "eval", stream=log, every=0.0) as progress:
        progress.update(250)
        progress.update(250)
        progress.update(500)  # done: the end is not announced as progress
    lines = log.getvalue().splitlines()
    assert len(lines) == 2
    assert re.fullmatch(r"eval: 250/1000 images \(25%\), [\d.]+ images/s, \d+:\d\d:\d\d left",
                        lines[0]), lines[0]
    assert lines[1].startswith("eval: 500/1000 images (50%)")


def test_short_work_prints_nothing_and_a_terminal_gets_a_bar_that_goes_away():
    log = io.StringIO()
    with Progress(10, "predict", stream=log) as progress:  # a line every 10 s at most
        progress.update(10)
    assert log.getvalue() == ""
    terminal = Terminal()
    with Progress(4, "infer", stream=terminal) as progress:
        assert progress.bar is not None
        progress.update(2)
        progress.bar.refresh()  # tqdm redraws at most every 0.1 s by itself
        assert "infer:  50%" in terminal.getvalue()
    assert progress.bar is None


@pytest.mark.slow
def test_eval_and_predict_count_every_image(tiny_data, trained_run):
    from paddle_googlenet.config import load_config
    from paddle_googlenet.engine import Engine
    from paddle_googlenet.engine.predict import Predictor
    from tiny import DEFAULT_CONFIG, tiny_overrides

    config = load_config(DEFAULT_CONFIG, tiny_overrides(tiny_data, "unused", **{
        "Global.pretrained_model": os.path.join(trained_run, "best_model"),
        "Infer.PostProcess.class_id_map_file": os.path.join(tiny_data, "label_list.txt")}))
    progress = Progress(6, "eval", stream=io.StringIO())
    report = Engine(config, mode="eval").evaluation_report(progress)
    assert progress.done == report.figures["images"] == 6
    images = [os.path.join(tiny_data, "images", "val", n)
              for n in sorted(os.listdir(os.path.join(tiny_data, "images", "val")))]
    progress = Progress(len(images), "predict", stream=io.StringIO())
    assert len(list(Predictor(config).predict(images, progress))) == len(images)
    assert progress.done == len(images)
