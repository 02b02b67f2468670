"""The only part of the GUI that talks to the model.

* :mod:`symnet_gui.services.inference_service` — ``InferenceService`` (GUI thread): the API the
  window uses; owns one persistent worker ``QThread``.
* :mod:`symnet_gui.services.inference_worker` — ``InferenceWorker`` (worker thread): imports
  torch and the predictor lazily, holds the model, runs jobs, reports through signals.
* :mod:`symnet_gui.services.backend` — how a model is loaded (real checkpoints; tests inject
  fakes).
* :mod:`symnet_gui.services.types` — the frozen dataclasses that cross threads.
* :mod:`symnet_gui.services.image_loader`, :mod:`symnet_gui.services.export_task` — one-off I/O
  jobs on a thread pool (no model involved).

Importing this package imports neither torch nor the predictor. It does apply
:mod:`symnet_gui.platform.qt_compat` (a PySide6 reference-count fix) before any signal is emitted.
"""

from __future__ import annotations

import symnet_gui.platform.qt_compat  # noqa: F401  (must run before the first Qt call; see the module)
