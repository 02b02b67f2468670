"""Test doubles for the GUI tests: a predictor with the real Predictor's protocol.

``FakePredictor`` segments by colour: it learns the mean colour of the supports' foreground and
predicts a probability that falls off with the colour distance. It can be slowed down (to test
progress and cancel) and made to fail (to test error paths). Everything is numpy; no torch.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np

from symnet_core.cancel import OperationCancelled
from symnet_core.inference.types import Prediction


@dataclass
class FakeConfig:
    """Shared by every predictor a backend makes (tests tweak it between runs)."""

    delay_s: float = 0.0
    fail_keys: set[tuple[int, int]] = field(default_factory=set)  # image shapes (h, w) that raise
    fail_always: bool = False
    calls: int = 0
    supports_seen: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class FakePredictor:
    def __init__(self, config: FakeConfig, threshold: float = 0.5, use_base_learner: bool = True) -> None:
        self.config = config
        self.threshold = threshold
        self.use_base_learner = use_base_learner
        self.model_id = "fake-model"
        self._mean: np.ndarray | None = None

    def set_supports(self, images: list[np.ndarray], masks: list[np.ndarray], class_name: str) -> None:
        assert images and len(images) == len(masks)
        pix = np.concatenate([img[m.astype(bool)] for img, m in zip(images, masks, strict=True)])
        self._mean = pix.reshape(-1, 3).mean(axis=0)
        with self.config.lock:
            self.config.supports_seen.append(len(images))

    def predict(self, image: np.ndarray, *, cancel: object = None) -> Prediction:
        assert self._mean is not None, "set_supports first"
        with self.config.lock:
            self.config.calls += 1
        end = time.monotonic() + self.config.delay_s
        while time.monotonic() < end:
            if cancel is not None and cancel.is_set():  # type: ignore[attr-defined]
                raise OperationCancelled()
            time.sleep(0.005)
        if self.config.fail_always or image.shape[:2] in self.config.fail_keys:
            raise RuntimeError("fake predictor failure")
        dist = np.linalg.norm(image.astype(np.float32) - self._mean, axis=2)
        prob = np.clip(1.0 - dist / 255.0, 0.0, 1.0).astype(np.float32)
        mask = prob > self.threshold
        score = float(np.abs(prob - self.threshold).mean() * 2)
        return Prediction(prob, mask, score, self.threshold)
