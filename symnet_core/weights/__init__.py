"""Where model files come from: the models folder, its registry, the catalogue, downloads.

``model/`` is the network; ``weights/`` is the files. Everything here except
:mod:`symnet_core.weights.validate` (and :meth:`ModelManager.add`, which calls it) is torch-free, so
the GUI thread can read the registry and the catalogue.
"""

from symnet_core.weights.catalogue import CATALOGUE, CatalogueEntry
from symnet_core.weights.download import DownloadError, DownloadProgress, HashMismatch
from symnet_core.weights.manager import ModelManager, VerifyResult
from symnet_core.weights.registry import ModelEntry, Registry, RegistryError, models_dir

__all__ = [
    "CATALOGUE",
    "CatalogueEntry",
    "DownloadError",
    "DownloadProgress",
    "HashMismatch",
    "ModelEntry",
    "ModelManager",
    "Registry",
    "RegistryError",
    "VerifyResult",
    "models_dir",
]
