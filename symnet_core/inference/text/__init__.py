"""Class-name text embeddings for APA: every embedder satisfies :class:`~.base.TextEmbedder`
(``dim`` and ``embed(name) -> (float32 [dim] vector, warning or None)``).

* :mod:`.word2vec` — :class:`Word2VecTable`, the authors' pickled tables (PASCAL / COCO rows).
* :mod:`.clip` — :class:`ClipTextEncoder`, open_clip's text tower (any name).
* :mod:`.hashed` — :class:`HashTextEmbedder`, a fixed pseudo-random vector per name (synthetic data).
"""

from symnet_core.inference.text.base import (
    COCO_CLASSES,
    DEFAULT_PROMPT_TEMPLATE,
    PASCAL_CLASSES,
    TextEmbedder,
    TextEncoderUnavailable,
    normalize_class_name,
)
from symnet_core.inference.text.clip import ClipTextEncoder, default_hub_cache_dir
from symnet_core.inference.text.hashed import HashTextEmbedder
from symnet_core.inference.text.word2vec import EmbeddingTableError, Word2VecTable

__all__ = [
    "COCO_CLASSES",
    "DEFAULT_PROMPT_TEMPLATE",
    "PASCAL_CLASSES",
    "ClipTextEncoder",
    "EmbeddingTableError",
    "HashTextEmbedder",
    "TextEmbedder",
    "TextEncoderUnavailable",
    "Word2VecTable",
    "default_hub_cache_dir",
    "normalize_class_name",
]
