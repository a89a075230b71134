"""One log line for each PaddleClas setting that changes how a run trains, or that
this build accepts without applying (and why), so none is dropped unnoticed."""

from ..weights.checkpoint import EMA

__all__ = ["setting_notes"]


def setting_notes(config: dict, update_freq: int, steps_per_epoch: int, device: str) -> list:
    g, amp = config["Global"], config.get("AMP") or {}
    notes = []
    if g["use_dali"]:
        notes.append("Global.use_dali: NVIDIA DALI is not used by this package; the "
                     "OpenCV/numpy loader reads and transforms the images")
    if g["to_static"]:
        notes.append("Global.to_static: the network runs through paddle.jit.to_static")
    # An update_freq cut to 1 (more than an epoch's batches) has its warning already.
    if update_freq > 1:
        notes.append(
            f"Global.update_freq: the optimizer steps every {update_freq} batches on "
            f"their summed gradients, each loss divided by {update_freq}; "
            f"{steps_per_epoch} batches per epoch, the LR schedule counts "
            f"{steps_per_epoch // update_freq} steps per epoch")
    if "EMA" in config:
        notes.append(f"EMA: evaluation and best_model use the moving average of the "
                     f"weights (decay {config['EMA']['decay']}), kept in checkpoints as "
                     f"{EMA}")
    if amp.get("use_amp") and device.startswith("gpu"):
        if amp.get("use_fp16_test"):
            notes.append("AMP.use_fp16_test: not applied; evaluation runs in float32")
        if amp.get("use_promote"):
            notes.append("AMP.use_promote: not applied; paddle.Model's auto_cast uses "
                         "Paddle's default type promotion")
    return notes
