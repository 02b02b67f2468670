"""CLIP's text tower (open_clip, imported lazily): embeds any class name. Only checkpoints
trained with CLIP text vectors of the same width can use it. Weights come from a local file or
the Hugging Face hub cache; a download happens only when allowed and after a short connectivity
probe, so offline use fails within about 2 s. Not thread-safe: use one instance on one thread.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from symnet_core._compat.torchvision import ensure_torchvision_importable
from symnet_core.inference.text.base import DEFAULT_PROMPT_TEMPLATE, TextEncoderUnavailable, normalize_class_name

__all__ = ["ClipTextEncoder", "default_hub_cache_dir"]

_log = logging.getLogger(__name__)


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
