"""Files of weights and training state: reading them as data, writing them whole.

- ``safe_load``: reads ``paddle.save`` pickles (``.pdparams``, ``.pdopt``,
  ``.pdstates``) without unpickling, and ``.safetensors`` without a memory map.
- ``writers``: writes plain data, ``.pdparams`` and ``.safetensors`` that
  ``safe_load`` reads back, streaming one tensor at a time.
- ``loading``: finds a weights file and loads it into a model, explaining mismatches.
- ``checkpoint``: checkpoint directories that a kill cannot half-write.
- ``convert``: ``.pdparams`` to ``.safetensors`` and back.
- ``atomic``: writing files and directories so that no reader sees half of one.
"""
