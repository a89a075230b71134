"""The benchmark's table and JSON: each figure's median and, beside it, how many
samples it rests on and their spread (``stats``); the sections' own tables come from
their modules."""

import json
from typing import Dict, List

from .data_pipeline import table as data_table
from .multicrop import table as multicrop_table
from .stats import spread
from .training_peer import table as tools_table

BASELINE = "baseline"  # the plain dygraph training path (harness.BASELINE_PATH)


def ratios(report: dict) -> Dict[str, dict]:
    """Every ratio the run reports, by name: what two runs should agree on."""
    found = {}
    for key in ("train_b16", "train_b32"):
        for name, row in report[key].items():
            found[f"{key}/{name}/vs_baseline"] = row["ratio_vs_baseline"]
            found[f"{key}/{name}/of_training_bound"] = row["fraction_of_training_bound"]
    for name, row in report["infer"].items():
        for field, value in row.items():
            if field.startswith("fraction_of_bound_") or (
                    field.startswith("vs_fp32_") and name != "fp32"):
                found[f"infer/{name}/{field}"] = value
    tools = report.get("train_tools", {})  # absent from files of earlier versions
    if "speedup_vs_paddleclas" in tools:
        found["train_tools/vs_paddleclas"] = tools["speedup_vs_paddleclas"]
    found["fit_over_step"] = report["fit"]["fit_over_step"]
    for prefix, data in (("data", report["data"]), ("data/large", report["data"].get("large"))):
        for name, value in (data or {}).get("of_decode_only", {}).items():
            found[f"{prefix}/{name}/of_decode_only"] = value
        for split, value in (data or {}).get("vs_paddleclas", {}).items():
            found[f"{prefix}/{split}/vs_paddleclas"] = value
    for precision, rows in report.get("multicrop", {}).get("rows", {}).items():
        for row in rows.values():
            found[f"multicrop/{precision}/{row['crops']} crops/of_bound"] = row["of_bound"]
    return found


def _memory_note(r: dict) -> str:
    """A warning when the machine's fresh memory was much slower at times."""
    memory = r["fresh_memory_gib_per_s"]
    if memory["max"] < 2 * memory["min"]:
        return ""
    return ("; it varied over 2x during the run, so figures of paths that give memory back "
            "each step (default, baseline) and their ratios to the matmul bound vary too")


def table(r: dict) -> str:
    lines = [f"Benchmark ({r['mode']}): {r['processor']['model']}, {r['processor']['cores']} "
             f"cores; best matmul {r['matmul_gflops']:.1f} GFLOP/s "
             f"(n={len(r['matmul_gflops_samples'])}); {r['macs_224'] / 1e9:.3f} GMAC/image; "
             f"forward bound {r['fp32_forward_bound']:.1f} images/s, training bound "
             f"{r['fp32_training_bound']:.1f}; config {r['config']}",
             "PaddleClas: " + (f"{r['paddleclas']['root']} at commit "
                               f"{r['paddleclas']['commit']}" if "root" in r["paddleclas"]
                               else f"skipped: {r['paddleclas']['skipped']}"),
             "Each figure: median (n = samples, min-max). Ratios are per round (the two "
             "sides measured in the same round), then the median.",
             f"fresh memory (first touch, once per training round): "
             f"{spread(r['fresh_memory_gib_per_s'], '.2f')} GiB/s" + _memory_note(r), ""]
    lines += ["| training (images/s) | b16 | b32 | vs baseline b16 | vs baseline b32 "
              "| of training bound b16 | peak RSS MB (b16 / b32) | max rel. loss diff |",
              "|---|---|---|---|---|---|---|---|"]
    for name, row in r["train_b16"].items():
        row32 = r["train_b32"].get(name)
        rss32 = f"{row32['peak_rss_mb']:.0f}" if row32 else "-"
        lines.append(
            f"| {name} ({row['description']}) | {spread(row['images_per_s'])} "
            f"| {spread(row32['images_per_s']) if row32 else '-'} "
            f"| {spread(row['ratio_vs_baseline'])} "
            f"| {spread(row32['ratio_vs_baseline']) if row32 else '-'} "
            f"| {spread(row['fraction_of_training_bound'], '.0%')} "
            f"| {row['peak_rss_mb']:.0f} / {rss32} "
            f"| {row['max_rel_loss_diff']:.1e} |")
    lines += ["", f"best correct training path: {r['train_best_path']} "
                  f"({r['train_best_ratio_b16']:.2f}x the baseline at b16)", ""]
    lines += [tools_table(r["train_tools"])]
    if "rows" in r["train_tools"]:
        lines.append(f"for scale, the plain dygraph training steps of the rows above (this "
                     f"package's GoogLeNet, not the tools' network; no data, no evaluation, "
                     f"b16): "
                     f"{spread(r['train_b16'][BASELINE]['images_per_s'], '.1f')} images/s")
    lines.append("")
    keys = r["infer_batches"]
    lines += ["| inference (images/s) | " + " | ".join(f"b{k}" for k in keys) + " | "
              + " | ".join(f"vs Paddle fp32 b{k}" for k in keys)
              + " | of bound b32 | max abs diff | top-1 agreement |",
              "|---|" + "---|" * (2 * len(keys) + 3)]
    names = list(r["infer"]) + [n for n in r["infer_skipped"] if n not in r["infer"]]
    for name in names:
        row = r["infer"].get(name)
        if row is None:
            lines.append(f"| {name} | skipped: {r['infer_skipped'].get(name, '')} |"
                         + " |" * (2 * len(keys) + 2))
            continue
        vs = [spread(row[f"vs_fp32_b{k}"]) if f"vs_fp32_b{k}" in row and name != "fp32" else "-"
              for k in keys]
        lines.append(f"| {name} | " + " | ".join(spread(row[f"b{k}"]) for k in keys) + " | "
                     + " | ".join(vs) + f" | {spread(row['fraction_of_bound_b32'], '.0%')} "
                     f"| {row['max_abs_diff']:.3g} | {row['top1_agreement']:.2%} |")
    lines += ["", f"agreement on {r['infer_eval_images']} eval images at the config's size; "
                  f"dygraph top-1 {r['infer_eval_top1']:.2%}; int8 offered (agreement >= 99%): "
                  f"{r['int8_offered']}; bound during the inference rounds "
                  f"{spread(r['infer_bound_b32'], '.1f')} images/s", ""]
    fit = r["fit"]
    lines += [data_table(r["data"]), "",
              f"fit epoch {spread(fit['fit_images_per_s'], '.1f')} images/s vs model-only "
              f"{spread(fit['model_only_images_per_s'], '.1f')} at batch {fit['batch']}, "
              f"{'x'.join(map(str, fit['input_shape']))}, num_workers {fit['num_workers']}: "
              f"fit/step {spread(fit['fit_over_step'])}"
              + ("" if len(fit["fit_over_step_by_workers"]) < 2 else " (by num_workers: " + ", ".join(
                  f"{w}: {spread(v)}" for w, v in fit["fit_over_step_by_workers"].items()) + ")"),
              f"peak RSS of training at b32 (baseline): {r['train_peak_rss_mb_b32']:.0f} MB; "
              f"best path: {r['train_best_peak_rss_mb_b32']:.0f} MB (sum over processes)"]
    if "multicrop" in r:
        lines += ["", "multi-crop evaluation per core:", multicrop_table(r["multicrop"])]
    return "\n".join(lines)


# Two runs' inference and data ratios must agree within this; training ratios, whose
# fresh processes scatter more, only within the runs' own spreads.
AGREEMENT = 0.10


def compare(first: dict, second: dict) -> List[tuple]:
    """``(name, first median, second median, relative difference, spreads overlap,
    flagged)`` for every ratio both reports hold, largest difference first.

    The spreads overlap when each median lies within the other run's min-max over
    its rounds: a difference the runs' own round-to-round scatter already holds.
    A training ratio (``train_*``, ``fit_over_step``) is flagged only when each
    median lies outside the other run's min-max; an inference or data ratio when
    the medians differ by more than ``AGREEMENT``.
    """
    a, b = ratios(first), ratios(second)

    def within(value, figure):
        return figure["min"] <= value <= figure["max"]

    rows = []
    for name in a:
        if name not in b:
            continue
        difference = abs(a[name]["median"] - b[name]["median"]) / abs(a[name]["median"])
        a_in_b, b_in_a = within(a[name]["median"], b[name]), within(b[name]["median"], a[name])
        training = name.startswith("train_") or name == "fit_over_step"
        flagged = not (a_in_b or b_in_a) if training else difference > AGREEMENT
        overlap = a_in_b and b_in_a
        rows.append((name, a[name]["median"], b[name]["median"], difference, overlap, flagged))
    return sorted(rows, key=lambda row: -row[3])


def write_json(report: dict, path: str):
    """Write ``report`` to ``path`` whole: a temporary file renamed into place."""
    from paddle_googlenet.weights.atomic import write_file_atomically

    text = json.dumps(report, indent=2).encode("utf-8")
    write_file_atomically(path, lambda f: f.write(text))
