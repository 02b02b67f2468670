"""Class-name text embeddings for Sym-Net's visual-text alignment (APA) module.

APA needs one text vector per class name (``symnet-spec.md`` §1.7, §1.8). Two sources exist:

* :class:`Word2VecTable`: the authors' pickled word2vec tables, ``[21, 300]`` for PASCAL and
  ``[81, 300]`` for COCO, row 0 = background. Checkpoints released by the authors were trained with
  these vectors, so they must be used with them. Names outside the table get a documented neutral
  vector and a warning text the GUI can show.
* :class:`ClipTextEncoder`: open_clip's text tower, which embeds any class name. Only checkpoints
  trained with CLIP text vectors of the same width can use it.

Both satisfy the :class:`TextEmbedder` protocol, so a predictor can take either. Neither is
thread-safe: create and use an instance on one thread (the inference worker).
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import socket
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable
from urllib.parse import urlparse

import numpy as np

from symnet_core._compat.torchvision import ensure_torchvision_importable

__all__ = [
    "COCO_CLASSES",
    "DEFAULT_PROMPT_TEMPLATE",
    "PASCAL_CLASSES",
    "ClipTextEncoder",
    "EmbeddingTableError",
    "TextEmbedder",
    "TextEncoderUnavailable",
    "Word2VecTable",
    "default_hub_cache_dir",
    "normalize_class_name",
]

_log = logging.getLogger(__name__)

#: Row names of the authors' ``word2vec_pascal.pkl`` (VOC order, row 0 = background).
PASCAL_CLASSES: tuple[str, ...] = (
    "background", "airplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
    "cow", "table", "dog", "horse", "motorbike", "person", "potted plant", "sheep", "sofa",
    "train", "tv",
)  # fmt: skip

#: Row names of the authors' ``word2vec_coco.pkl`` (contiguous COCO order, row 0 = background).
COCO_CLASSES: tuple[str, ...] = (
    "background", "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck",
    "boat", "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat",
    "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip

# Alternative spellings -> the table's own name. Keys and values are compared after
# normalize_class_name() with all spaces removed, so "Potted-Plant" and "pottedplant" need no entry.
_PASCAL_ALIASES: dict[str, str] = {
    "aeroplane": "airplane", "plane": "airplane", "bike": "bicycle", "motorcycle": "motorbike",
    "dining table": "table", "diningtable": "table", "tv monitor": "tv", "tvmonitor": "tv",
    "television": "tv", "monitor": "tv", "couch": "sofa", "plant": "potted plant",
    "people": "person", "human": "person", "ship": "boat",
}  # fmt: skip
_COCO_ALIASES: dict[str, str] = {
    "aeroplane": "airplane", "plane": "airplane", "motorbike": "motorcycle", "bike": "bicycle",
    "sofa": "couch", "tv monitor": "tv", "tvmonitor": "tv", "television": "tv",
    "diningtable": "dining table", "table": "dining table", "pottedplant": "potted plant",
    "plant": "potted plant", "hair dryer": "hair drier", "doughnut": "donut",
    "fridge": "refrigerator", "mobile phone": "cell phone", "cellphone": "cell phone",
    "phone": "cell phone", "ski": "skis", "ball": "sports ball", "racket": "tennis racket",
    "hotdog": "hot dog", "people": "person", "human": "person",
}  # fmt: skip
_DATASETS: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "pascal": (PASCAL_CLASSES, _PASCAL_ALIASES),
    "coco": (COCO_CLASSES, _COCO_ALIASES),
}

#: Prompt used by :class:`ClipTextEncoder`: CLIP was trained on captions, and this is the plain
#: prompt from the CLIP paper's zero-shot setup. ``{}`` is replaced by the normalised class name.
DEFAULT_PROMPT_TEMPLATE = "a photo of a {}."

_SEPARATORS = re.compile(r"[\s_\-]+")


def normalize_class_name(name: str) -> str:
    """Lower-case, trim, and turn runs of spaces/underscores/hyphens into one space.

    ``" Potted_Plant"`` -> ``"potted plant"``.
    """
    return _SEPARATORS.sub(" ", name.strip().lower()).strip()


def _compact(name: str) -> str:
    return normalize_class_name(name).replace(" ", "")


@runtime_checkable
class TextEmbedder(Protocol):
    """Anything that turns a class name into an APA text vector."""

    @property
    def dim(self) -> int:
        """Width D of the vectors :meth:`embed` returns."""
        ...

    def embed(self, name: str) -> tuple[np.ndarray, str | None]:
        """Return (vector float32 [D], warning text for the user or None)."""
        ...


class EmbeddingTableError(ValueError):
    """A word2vec table file is unreadable, of the wrong shape, or not a plain numpy array."""


# --------------------------------------------------------------------------------------------
# word2vec tables
# --------------------------------------------------------------------------------------------


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    # Python 3 pickles with protocol <= 2 store bytes as _codecs.encode(text, "latin1").
    if encoding.lower().replace("-", "") != "latin1":
        raise pickle.UnpicklingError(f"codec {encoding!r} is not allowed")
    return text.encode("latin-1")


def _allowed_pickle_globals() -> dict[tuple[str, str], Any]:
    try:
        from numpy._core import multiarray, numeric
    except ImportError:  # numpy < 2
        from numpy.core import multiarray, numeric  # type: ignore[no-redef]
    allowed: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1_encode,
    }
    for package in ("numpy.core", "numpy._core"):
        allowed[(f"{package}.multiarray", "_reconstruct")] = multiarray._reconstruct
        allowed[(f"{package}.numeric", "_frombuffer")] = numeric._frombuffer
    return allowed


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that can rebuild numpy arrays and nothing else (no code runs from the file)."""

    def __init__(self, file: Any, source: Path) -> None:
        super().__init__(file, encoding="latin-1")
        self._source = source
        self._allowed = _allowed_pickle_globals()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise EmbeddingTableError(
                f"{self._source}: refused to load '{module}.{name}'. A word2vec table may only "
                "contain a numpy array; this file is corrupt, not a table, or unsafe."
            ) from None


class Word2VecTable:
    """A class-name -> vector table, as in the authors' ``word2vec_{pascal,coco}.pkl``.

    Args:
        vectors: float array [N, D], row i = class ``class_names[i]`` (row 0 = background).
        class_names: N names; matching is case-, space-, underscore- and hyphen-insensitive.
        aliases: extra spellings -> a name in ``class_names``.
        source: where the table came from, for messages.

    Unknown names get the *neutral vector*: the L2-normalised mean of the class rows 1..N-1.
    Why: every row of the authors' tables has norm 1, so a unit vector keeps the APA input in the
    range the model saw in training; the mean leans towards no particular class, whereas row 0
    ("background") would tell APA the target is background and a zero vector is a norm never seen.
    APA adds the visual prototype residually, so a poor text vector degrades the prototype rather
    than breaking it; the warning returned with it asks the user to check the results.
    """

    def __init__(
        self,
        vectors: np.ndarray,
        class_names: Sequence[str],
        aliases: Mapping[str, str] | None = None,
        source: str = "in-memory table",
    ) -> None:
        table = np.asarray(vectors)
        if table.ndim != 2 or table.shape[0] != len(class_names) or table.shape[1] == 0:
            raise EmbeddingTableError(f"{source}: expected a [{len(class_names)}, D] array, got shape {table.shape}")
        if not np.issubdtype(table.dtype, np.floating) or not np.isfinite(table).all():
            raise EmbeddingTableError(f"{source}: table must hold finite floats (dtype {table.dtype})")
        self._vectors = np.array(table, dtype=np.float32)
        self._vectors.setflags(write=False)
        self._names = tuple(class_names)
        self._source = source
        self._index = {_compact(n): i for i, n in enumerate(self._names)}
        for alias, target in (aliases or {}).items():
            if _compact(target) not in self._index:
                raise ValueError(f"alias {alias!r} points to {target!r}, which is not in the table")
            self._index.setdefault(_compact(alias), self._index[_compact(target)])
        class_rows = self._vectors[1:] if len(self._names) > 1 else self._vectors
        mean = class_rows.mean(axis=0)
        norm = float(np.linalg.norm(mean))
        self._neutral = (mean / norm if norm > 1e-8 else np.zeros_like(mean)).astype(np.float32)
        self._neutral.setflags(write=False)

    @classmethod
    def from_pickle(cls, path: str | os.PathLike[str], dataset: Literal["pascal", "coco"] = "pascal") -> Word2VecTable:
        """Load an authors' table: a pickled numpy float array [21, D] (PASCAL) or [81, D] (COCO).

        The file is read with a restricted unpickler that only rebuilds numpy arrays, so an
        untrusted file cannot run code. Raises FileNotFoundError, or EmbeddingTableError naming the
        file when it is unreadable, holds anything but an array, or has the wrong number of rows.
        """
        dataset = dataset.lower()  # type: ignore[assignment]
        if dataset not in _DATASETS:
            raise ValueError(f"dataset must be one of {sorted(_DATASETS)}, got {dataset!r}")
        names, aliases = _DATASETS[dataset]
        path = Path(path)
        with path.open("rb") as f:
            try:
                obj = _NumpyOnlyUnpickler(f, path).load()
            except EmbeddingTableError:
                raise
            except Exception as exc:
                raise EmbeddingTableError(f"{path}: not a readable pickle ({type(exc).__name__}: {exc})") from exc
        if not isinstance(obj, np.ndarray):
            raise EmbeddingTableError(f"{path}: expected a numpy array, found {type(obj).__name__}")
        if obj.ndim != 2 or obj.shape[0] != len(names):
            raise EmbeddingTableError(f"{path}: a {dataset} table must have shape [{len(names)}, D], got {obj.shape}")
        _log.debug("loaded %s word2vec table %s, shape %s", dataset, path, obj.shape)
        return cls(obj, names, aliases, source=str(path))

    @property
    def dim(self) -> int:
        """Vector width D (300 for the authors' tables)."""
        return int(self._vectors.shape[1])

    @property
    def class_names(self) -> tuple[str, ...]:
        """The row names, row 0 first."""
        return self._names

    @property
    def neutral_vector(self) -> np.ndarray:
        """float32 [D], unit norm (zeros only for a degenerate table); see the class docstring."""
        return self._neutral.copy()

    def _lookup(self, name: str) -> tuple[int | None, str | None]:
        key = _compact(name)
        if key in self._index:
            return self._index[key], None
        for suffix in ("es", "s"):  # simple plurals: "cars", "buses"
            if key.endswith(suffix) and key[: -len(suffix)] in self._index:
                row = self._index[key[: -len(suffix)]]
                return row, f"Class name '{name}' was matched to the table entry '{self._names[row]}'."
        return None, None

    def index_of(self, name: str) -> int | None:
        """Official row index of ``name`` (0 = background), or None when it is not in the table."""
        return self._lookup(name)[0]

    def vector(self, name: str) -> tuple[np.ndarray, str | None]:
        """Return (float32 [D] copy, warning or None) for a class name.

        Unknown names give the neutral vector and a warning text meant for the user.
        Raises ValueError for an empty name.
        """
        if not normalize_class_name(name):
            raise ValueError("class name is empty")
        row, note = self._lookup(name)
        if row is not None:
            return self._vectors[row].copy(), note
        warning = (
            f"'{name}' is not in the word2vec table ({self._source}); a neutral text vector is used, "
            "so this class is matched on appearance only. Check its predictions, or use a model "
            "trained with CLIP text embeddings."
        )
        return self._neutral.copy(), warning

    def embed(self, name: str) -> tuple[np.ndarray, str | None]:
        """Same as :meth:`vector` (the :class:`TextEmbedder` protocol)."""
        return self.vector(name)


# --------------------------------------------------------------------------------------------
# CLIP text encoder
# --------------------------------------------------------------------------------------------


class TextEncoderUnavailable(RuntimeError):
    """CLIP weights cannot be had right now (not cached and no download allowed or possible)."""


def default_hub_cache_dir() -> Path:
    """The Hugging Face hub cache: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub.

    Read from the environment at call time (huggingface_hub itself reads it once, at import).
    """
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return Path(xdg).expanduser() / "huggingface" / "hub"


def _hf_offline_requested() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def _can_reach(host: str, port: int = 443, timeout: float = 1.5) -> bool:
    """TCP connect to host:port. Bounded by ``timeout`` in total, DNS included (it runs in a
    daemon thread, because ``socket.create_connection``'s timeout does not cover name lookup)."""
    result: list[bool] = []

    def attempt() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=attempt, name="symnet-connectivity-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


def _hf_weight_candidates(hf_hub: str) -> tuple[str, list[str]]:
    # open_clip's convention: "org/repo/" (default file names) or "org/repo/file.bin".
    repo_id, filename = os.path.split(hf_hub)
    if not filename:
        return repo_id, ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]
    if filename.endswith((".bin", ".pth")):
        return repo_id, [filename[:-4] + ".safetensors", filename]
    return repo_id, [filename]


class ClipTextEncoder:
    """Class name -> CLIP text feature, float32 [D], L2-normalised (D: RN50 1024, ViT-B-32 512).

    Args:
        model_name: an open_clip built-in architecture using its bundled tokenizer ("RN50",
            "ViT-B-32", ...).
        pretrained: None (random weights, for tests), a local weight file, or an open_clip tag
            such as "openai" (weights from the Hugging Face hub cache).
        cache_dir: hub cache to use instead of :func:`default_hub_cache_dir`.
        device: torch device string ("cpu", "cuda:0", ...).
        template: prompt with one ``{}`` for the class name (default :data:`DEFAULT_PROMPT_TEMPLATE`).
        allow_download: fetch uncached tagged weights (only after a 1.5 s connectivity probe
            succeeds). A download can take minutes and cannot be cancelled here: run it off the GUI
            thread.

    Construction is cheap; open_clip is imported and the model built on first use (:meth:`load`).
    Uncached weights without an allowed, reachable download raise :class:`TextEncoderUnavailable`
    within about 2 s, never a long network hang. Features are cached per normalised name.
    """

    def __init__(
        self,
        model_name: str = "RN50",
        pretrained: str | os.PathLike[str] | None = "openai",
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        device: str = "cpu",
        template: str = DEFAULT_PROMPT_TEMPLATE,
        allow_download: bool = False,
    ) -> None:
        if template.count("{}") != 1:
            raise ValueError(f"template must contain exactly one '{{}}', got {template!r}")
        if ":" in model_name:
            raise ValueError(f"use a built-in open_clip model name, not a schema: {model_name!r}")
        self.model_name = model_name
        self.pretrained = None if pretrained is None else os.fspath(pretrained)
        self.template = template
        self.device = device
        self.allow_download = allow_download
        self._cache_dir = None if cache_dir is None else Path(cache_dir).expanduser()
        self._model: Any = None
        self._tokenizer: Any = None
        self._features: dict[str, np.ndarray] = {}

    @staticmethod
    def _open_clip() -> Any:
        ensure_torchvision_importable()
        import open_clip

        return open_clip

    def _model_config(self) -> dict[str, Any]:
        config = self._open_clip().get_model_config(self.model_name)
        if config is None:
            raise ValueError(f"unknown open_clip model {self.model_name!r}")
        text_cfg = config.get("text_cfg", {})
        if text_cfg.get("hf_model_name") or text_cfg.get("hf_tokenizer_name"):
            raise ValueError(
                f"{self.model_name!r} needs a Hugging Face text model or tokenizer; only models "
                "with open_clip's bundled tokenizer are supported"
            )
        return config

    @property
    def dim(self) -> int:
        """Feature width D, from the architecture config (imports open_clip; no weights needed)."""
        return int(self._model_config()["embed_dim"])

    @property
    def hub_cache_dir(self) -> Path:
        """Where tagged weights are looked for and downloaded to."""
        return self._cache_dir or default_hub_cache_dir()

    def _tag_config(self) -> dict[str, Any]:
        if self.pretrained is None:
            return {}
        return dict(self._open_clip().get_pretrained_cfg(self.model_name, self.pretrained))

    def resolve_weights(self) -> str | None:
        """Path of the weight file to load (None for random weights), without network access
        unless ``allow_download`` is set. Raises TextEncoderUnavailable, or ValueError for a
        ``pretrained`` that is neither a known tag nor an existing file."""
        if self.pretrained is None:
            return None
        tag_cfg = self._tag_config()
        if not tag_cfg:
            path = Path(self.pretrained).expanduser()
            if path.is_file():
                return str(path)
            if path.suffix or os.sep in self.pretrained:
                raise TextEncoderUnavailable(f"CLIP weight file not found: {path}")
            tags = self._open_clip().list_pretrained_tags_by_model(self.model_name)
            raise ValueError(
                f"{self.pretrained!r} is neither a file nor a pretrained tag of {self.model_name} "
                f"(tags: {', '.join(tags) or 'none'})"
            )
        cached, looked_in = self._find_cached(tag_cfg)
        if cached is not None:
            _log.debug("CLIP weights %s/%s found in cache: %s", self.model_name, self.pretrained, cached)
            return cached
        return self._download(tag_cfg, looked_in)

    def _find_cached(self, tag_cfg: dict[str, Any]) -> tuple[str | None, list[str]]:
        looked_in: list[str] = []
        hub = self.hub_cache_dir
        if tag_cfg.get("hf_hub"):
            repo_id, filenames = _hf_weight_candidates(tag_cfg["hf_hub"])
            looked_in.append(str(hub / ("models--" + repo_id.replace("/", "--"))))
            try:
                from huggingface_hub import try_to_load_from_cache
            except ImportError:  # open_clip then downloads by URL only
                filenames = []
            for filename in filenames:
                found = try_to_load_from_cache(repo_id, filename, cache_dir=hub)
                if isinstance(found, str) and os.path.isfile(found):
                    return found, looked_in
        if tag_cfg.get("url"):
            basename = os.path.basename(urlparse(tag_cfg["url"]).path)
            for folder in (hub, Path("~/.cache/clip").expanduser()):
                looked_in.append(str(folder / basename))
                if (folder / basename).is_file():
                    return str(folder / basename), looked_in
        return None, looked_in

    def _download(self, tag_cfg: dict[str, Any], looked_in: list[str]) -> str:
        what = f"CLIP weights '{self.model_name}' / '{self.pretrained}'"
        how = (
            "To get them, run once with network access and downloads allowed (they are then cached), "
            "or download the weight file yourself and pass its path as `pretrained`."
        )
        where = "; ".join(looked_in)
        if not self.allow_download:
            raise TextEncoderUnavailable(f"{what} are not cached (looked in {where}); downloads are off. {how}")
        if _hf_offline_requested():
            raise TextEncoderUnavailable(f"{what} are not cached (looked in {where}) and HF_HUB_OFFLINE is set. {how}")
        if tag_cfg.get("hf_hub"):
            endpoint = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
        else:
            endpoint = urlparse(tag_cfg["url"])
        host = endpoint.hostname or "huggingface.co"
        port = endpoint.port or (80 if endpoint.scheme == "http" else 443)
        if not _can_reach(host, port):
            raise TextEncoderUnavailable(
                f"{what} are not cached (looked in {where}) and {host} cannot be reached. {how}"
            )
        _log.info("downloading %s into %s", what, self.hub_cache_dir)
        try:
            path = self._open_clip().pretrained.download_pretrained(tag_cfg, cache_dir=str(self.hub_cache_dir))
        except Exception as exc:
            raise TextEncoderUnavailable(f"Downloading {what} failed: {exc}. {how}") from exc
        if not path:
            raise TextEncoderUnavailable(f"open_clip has no download source for {what}. {how}")
        return str(path)

    def load(self) -> None:
        """Build the model (once). Raises TextEncoderUnavailable or ValueError; see the class doc."""
        if self._model is not None:
            return
        open_clip = self._open_clip()
        self._model_config()
        weights = self.resolve_weights()
        quick_gelu = bool(self._tag_config().get("quick_gelu", False))
        try:
            model = open_clip.create_model(
                self.model_name, pretrained=weights, device=self.device, force_quick_gelu=quick_gelu
            )
        except Exception as exc:  # a weight file can fail in many ways (format, keys, shapes)
            if weights is None:
                raise
            raise TextEncoderUnavailable(f"Could not load CLIP weights from {weights}: {exc}") from exc
        model.visual = None  # only the text tower is used; free the image tower's memory
        self._model = model.eval()
        self._tokenizer = open_clip.get_tokenizer(self.model_name)
        _log.debug("CLIP text encoder %s ready (weights: %s)", self.model_name, weights or "random")

    def encode_many(self, names: Sequence[str]) -> np.ndarray:
        """float32 [N, D], each row L2-normalised; names are normalised (see
        :func:`normalize_class_name`) and filled into ``template``. Raises ValueError on an empty name."""
        keys = [normalize_class_name(n) for n in names]
        if not all(keys):
            raise ValueError("class name is empty")
        missing = [k for k in dict.fromkeys(keys) if k not in self._features]
        if missing:
            self.load()
            import torch

            tokens = self._tokenizer([self.template.format(k) for k in missing]).to(self.device)
            with torch.inference_mode():
                features = torch.nn.functional.normalize(self._model.encode_text(tokens).float(), dim=-1)
            for key, row in zip(missing, features.cpu().numpy().astype(np.float32), strict=True):
                row.setflags(write=False)
                self._features[key] = row
        if not keys:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._features[k] for k in keys])

    def encode(self, name: str) -> np.ndarray:
        """float32 [D], L2-normalised feature of one class name."""
        return self.encode_many([name])[0]

    def embed(self, name: str) -> tuple[np.ndarray, str | None]:
        """(:meth:`encode` of ``name``, None): CLIP embeds any name, so there is no warning."""
        return self.encode(name), None
