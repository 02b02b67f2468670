"""Training and evaluation of Sym-Net (``symnet-train`` / ``symnet-eval``).

Modules: :mod:`.config` (typed YAML configuration), :mod:`.datasets` (PASCAL-5i, COCO-20i, user
folders and the synthetic dataset as few-shot episodes), :mod:`.augment` (training and
evaluation transforms), :mod:`.losses`, :mod:`.text` (class-name vectors), :mod:`.train` and
:mod:`.evaluate`. See ``docs/training.md``.
"""

from __future__ import annotations
