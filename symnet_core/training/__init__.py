"""Training and evaluation of Sym-Net (``symnet-train`` / ``symnet-eval``).

Modules: :mod:`.config` (typed YAML configuration); data: :mod:`.sources` (image/label items),
:mod:`.episodes` (class index, splits, episode sampling), :mod:`.datasets` (PASCAL-5i, COCO-20i,
user folders and the synthetic dataset as :class:`~.datasets.FewShotData`), :mod:`.augment`
(training and evaluation transforms), :mod:`.batches` (seeded per-iteration batches); the run:
:mod:`.losses`, :mod:`.text` (class-name vectors), :mod:`.setup` (schedule, frozen parts,
optimiser), :mod:`.train` and :mod:`.evaluate`; :mod:`.synthetic` (the synthetic generator and the
demo folder). See ``docs/training.md``.
"""

from __future__ import annotations
