"""The precisions that have files of their own to export, one exporter each, keyed by
the precision's name in ``deploy.precisions.PRECISIONS``.

An exporter brings its ``tools/export_model.py`` flag (``--<name>``) and help, the
options it takes, a check that runs before anything is written, the export itself
(into the directory being written, after the float32 model) and the line the tool
prints about its result. ``tools/export_model.py`` and ``export_inference_model``
follow ``EXPORTERS``: a new precision's export is a new entry here.
"""

from typing import Any, Dict, NamedTuple, Tuple

from ..deploy.precisions import precision_named
from ..errors import UserError

__all__ = ["ExportOption", "Exporter", "EXPORTERS", "exporter_named"]


class ExportOption(NamedTuple):
    """An option of an export: ``tools/export_model.py --<name>`` and the key of
    ``export_inference_model``'s ``options``."""
    name: str
    type: type
    default: Any
    help: str


class Exporter:
    """Writes one precision's files; subclasses set the name and override the rest."""

    name = ""
    help = ""
    options: Tuple[ExportOption, ...] = ()

    @property
    def flag(self) -> str:
        return f"--{self.name}"

    def check(self, config: dict, options: Dict[str, Any]) -> None:
        """Raise a UserError if ``config`` and ``options`` (one value per ``options``
        name) cannot export it; runs before anything is written."""

    def export(self, config: dict, weights: str, model_dir: str,
               options: Dict[str, Any], progress=None) -> dict:
        """Write the files into ``model_dir`` (the export being written, which holds
        the float32 model) and return what ``inference.yml`` records under the name.
        ``progress``: see ``export_inference_model``."""
        raise NotImplementedError

    def line(self, record: dict) -> str:
        """What ``tools/export_model.py`` prints about ``record`` (what ``export``
        returned)."""
        return f"{self.name}: {record}"


class Int8Exporter(Exporter):
    name = "int8"
    help = ("also write an int8 model (tools/infer.py --precision int8), calibrated on "
            "DataLoader.Train images and kept only if its top-1 agrees with fp32 on "
            "DataLoader.Eval")

    @property
    def options(self):
        from .int8 import INT8_CALIBRATION_IMAGES, INT8_MIN_AGREEMENT

        return (ExportOption("calibration_images", int, INT8_CALIBRATION_IMAGES,
                             "training images that set int8's activation ranges"),
                ExportOption("int8_min_agreement", float, INT8_MIN_AGREEMENT,
                             "top-1 agreement with fp32 that int8 must keep"))

    def check(self, config, options):
        from .int8 import check_int8_request

        check_int8_request(config, options["calibration_images"], options["int8_min_agreement"])

    def export(self, config, weights, model_dir, options, progress=None):
        from .int8 import quantize_to_int8

        return quantize_to_int8(config, weights, model_dir, options["calibration_images"],
                                options["int8_min_agreement"], progress)

    def line(self, record):
        return (f"int8 (calibrated on {record['calibration_images']} training images) agrees "
                f"with fp32 on the top-1 class of {record['top1_agreement']:.2%} of "
                f"{record['check_images']} eval images; run it with tools/infer.py "
                f"--precision int8")


# int8's module is imported when it exports, not here: ``python -m
# paddle_googlenet.export.int8`` (its calibration child) imports this package first.
EXPORTERS: Dict[str, Exporter] = {e.name: e for e in (Int8Exporter(),)}


def exporter_named(name: str) -> Exporter:
    if name not in EXPORTERS:
        precision_named(name)  # an unknown name: the precisions there are
        raise UserError(f"precision {name!r} has no files of its own to export (the float32 "
                        f"model serves it); those that do: {list(EXPORTERS)}")
    return EXPORTERS[name]
