"""``googlenet-summary`` (``tools/summary.py``): the ``paddle.summary`` table, parameter
and multiply-accumulate counts of the configured (or default) model."""

import argparse
import sys

from .options import config_arguments, run

__all__ = ["main"]


def _summary(argv):
    parser = argparse.ArgumentParser(
        description="Print the paddle.summary table, parameter and multiply-accumulate "
                    "counts of the configured (or default) model.")
    config_arguments(parser, required=False)
    parser.add_argument("--input-size", type=int, nargs="+", metavar="SIDE",
                        help="input H [W] (default: the config's Global.image_shape, or 224)")
    parser.add_argument("--expect", type=int, metavar="N",
                        help="exit 1 unless the total parameter count is N")
    args = parser.parse_args(argv)

    import paddle

    from ..models.analysis import count_macs, count_parameters
    from ..config import load_config
    from ..models import build_model

    if args.config:
        config = load_config(args.config, args.override)
        network = build_model(config["Arch"])
        shape = config["Global"]["image_shape"]
    else:
        network, shape = _default_model(args.override)
    if args.input_size:
        side = args.input_size
        shape = [3, side[0], side[-1]]
    if hasattr(network, "check_input"):  # a clear error before paddle.summary's own
        network.check_input(paddle.zeros([1] + shape))
    paddle.summary(network, input_size=(None, *shape))
    params = count_parameters(network)
    macs = count_macs(network, shape)
    print(f"Input: {shape}")
    print(f"Total params: {params['total']:,}")
    print(f"Trainable params: {params['trainable']:,}")
    print(f"Multiply-accumulates per image: {macs['total']:,} "
          f"({macs['total'] / 1e9:.3f} G; conv {macs['by_type']['Conv2D']:,}, "
          f"linear {macs['by_type']['Linear']:,})")
    if args.expect is not None and params["total"] != args.expect:
        print(f"error: expected {args.expect:,} parameters, the model has "
              f"{params['total']:,}", file=sys.stderr)
        return 1
    return 0


def _default_model(overrides):
    """The built-in default, ``Arch: {name: GoogLeNet}`` at 224x224, with ``-o`` options
    on its ``Arch`` (and ``Global.image_shape``) applied; any other key is refused."""
    from ..config import GLOBAL_KEYS, apply_overrides
    from ..errors import ConfigError
    from ..models import build_model
    from ..registry import check_value

    for option in overrides:
        key = option.partition("=")[0].strip()
        if not (key.startswith("Arch.") or key == "Global.image_shape"):
            raise ConfigError(f"-o {option}: without -c only Arch.* and Global.image_shape "
                              f"apply to the default model; give a config with -c for others")
    config = apply_overrides({"Arch": {"name": "GoogLeNet"},
                              "Global": {"image_shape": [3, 224, 224]}}, overrides)
    check_value(config["Global"]["image_shape"], GLOBAL_KEYS["image_shape"][0],
                "Global.image_shape")
    return build_model(config["Arch"]), list(config["Global"]["image_shape"])


def main(argv=None) -> int:
    return run(_summary, argv)
