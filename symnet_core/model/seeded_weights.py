"""Deterministic, seed-generated Sym-Net weights for tests and benchmarks.

Purpose: parity tests (our model against recorded outputs of the reference implementation),
benchmarks and smoke tests need *some* full set of weights that

* is identical, bit for bit, whichever implementation asks for it: every tensor depends only on
  ``(seed, key name, shape, dtype)``, never on the order of the keys or on global RNG state;
* is identical on every machine and NumPy version: values come from the raw 64-bit output of
  NumPy's PCG64 bit generator (seeded through ``SeedSequence``), turned into uniforms and
  near-normals here with additions only, rather than by ``Generator`` methods (whose streams
  NumPy does not promise to keep) or libm transcendental functions (last bit CPU-dependent);
* gives *healthy* activations through a whole forward pass without any calibration on data
  (which would make the weights depend on the calibration images and on float rounding).

These weights are meaningless for segmentation. Never use them for real inference.

Rules, chosen by key name (the official checkpoint's names). ``N(0, s²)`` below means the
near-normal of :func:`_normal` scaled to std ``s``; "Kaiming" means std ``sqrt(2 / fan_in)``.

=========================================  =================================================
conv weights of backbone and base learner   Kaiming, then each output filter made zero-sum
(``layer0-4.*``, ``learner_base.*``;        (mean over its fan-in subtracted) and scaled by
fan-in >= 32)                               1.25. Zero-sum filters ignore the (large, positive)
                                            mean of post-ReLU inputs, which stands in for the
                                            BN calibration real checkpoints have: without it
                                            every position's feature points the same way
                                            (cosine ~0.99 everywhere, a flat SPM prior).
other conv weights with fan-in >= 32        Kaiming, zero-sum filters, no extra gain
(meta head, down_query/supp, TDC merges)
conv weights with fan-in < 32, linear       Kaiming
weights (APA ``w_q``/``proj``), kshot_rw
last conv of a head residual branch         the above times 0.5 (``beta_conv.*.2``,
                                            ``alpha_conv.*.0``, ``res2.2``), so the pyramid
                                            does not grow from level to level
BatchNorm gamma                             U(0.5, 1.0); ``bn3`` of every bottleneck
                                            U(0.2, 0.3) so the residual stream grows slowly
                                            (the downsample BN keeps U(0.5, 1.0): it sets the
                                            scale each stage starts from)
BatchNorm beta / running_mean               N(0, 0.05²) / N(0, 0.1²)
BatchNorm running_var                       U(0.5, 1.5)
BatchNorm num_batches_tracked               0
GroupNorm weight / bias                     U(0.8, 1.2) / N(0, 0.05²)
other biases                                N(0, 0.05²); ``kshot_rw.*`` biases U(-1, 1), so
                                            the shot weights are clearly non-uniform
``CrossAttention.weight`` (bilinear M)      U(-1/16, 1/16)
``gram_merge.weight``                       fixed (0.8, 0.5)
``cls_merge.weight``                        fixed (0.9, 0.4) (positive base weight, as trained
                                            checkpoints have: base classes pushed to bg)
=========================================  =================================================

A 1-D ``weight`` counts as BatchNorm when the template holds a ``running_var`` for the same
module, otherwise as GroupNorm. Changing any rule changes the weights' fingerprint and
invalidates the parity fixtures (``tests/fixtures/parity``), which must then be re-recorded.
"""

from __future__ import annotations

import hashlib
import math
import zlib
from collections.abc import Mapping

import numpy as np
import torch

__all__ = ["seeded_state_dict", "state_dict_fingerprint"]

_GRAM_MERGE = (0.8, 0.5)
_CLS_MERGE = (0.9, 0.4)
_APA_BILINEAR_BOUND = 1.0 / 16.0
_CENTER_MIN_FAN_IN = 32
_CENTERED_GAIN = 1.25
_BN_FOLLOWED_PREFIXES = ("layer0.", "layer1.", "layer2.", "layer3.", "layer4.", "learner_base.")
_RESIDUAL_TAIL_SCALE = 0.5
_CHUNK = 1 << 22


def _is_residual_tail(key: str) -> bool:
    """Last conv of a residual branch of the meta head (X <- branch(X) + X)."""
    parts = key.split(".")
    return (
        (parts[0] == "beta_conv" and parts[2:] == ["2", "weight"])
        or (parts[0] == "alpha_conv" and parts[2:] == ["0", "weight"])
        or key == "res2.2.weight"
    )


def _raw_stream(seed: int, key: str) -> np.random.PCG64:
    seq = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, zlib.crc32(key.encode("utf-8"))])
    return np.random.PCG64(seq)


def _to_unit(raw: np.ndarray) -> np.ndarray:
    # 53 high bits -> double in [0, 1): exact, no platform-dependent arithmetic.
    return (np.asarray(raw, dtype=np.uint64) >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


def _uniform(seed: int, key: str, n: int) -> np.ndarray:
    """``n`` float64 uniforms in [0, 1) that depend only on ``(seed, key)``."""
    return _to_unit(_raw_stream(seed, key).random_raw(n))


def _normal(seed: int, key: str, n: int) -> np.ndarray:
    """``n`` approximately standard normal values that depend only on ``(seed, key)``.

    Irwin-Hall with 4 terms, rescaled to unit variance: ``(u1+u2+u3+u4-2)*sqrt(3)``. Bounded
    (|z| < 3.47) and built from additions only, so it is bit-identical on every CPU (no libm
    ``log``/``cos`` whose last bit may depend on the SIMD code path).
    """
    gen = _raw_stream(seed, key)
    out = np.empty(n, dtype=np.float64)
    scale = math.sqrt(3.0)
    for start in range(0, n, _CHUNK):
        m = min(_CHUNK, n - start)
        u = _to_unit(gen.random_raw(4 * m)).reshape(m, 4)
        out[start : start + m] = (((u[:, 0] + u[:, 1]) + (u[:, 2] + u[:, 3])) - 2.0) * scale
    return out


def _zero_sum_rows(w: np.ndarray, rows: int) -> np.ndarray:
    """Subtract each output filter's mean (sequential float64 sum: bit-identical everywhere)."""
    w = w.reshape(rows, -1)
    mean = np.cumsum(w, axis=1)[:, -1] / w.shape[1]
    return (w - mean[:, None]).reshape(-1)


def _fan_in(shape: tuple[int, ...]) -> int:
    fan = shape[1] if len(shape) > 1 else shape[0]
    for s in shape[2:]:
        fan *= s
    return max(int(fan), 1)


def _values(key: str, shape: tuple[int, ...], seed: int, is_bn: bool) -> np.ndarray:
    """float64 values for one floating-point entry."""
    n = int(np.prod(shape)) if shape else 1
    module, _, leaf = key.rpartition(".")
    last = module.rpartition(".")[2]

    def unif(lo: float, hi: float) -> np.ndarray:
        return lo + (hi - lo) * _uniform(seed, key, n)

    def normal(std: float) -> np.ndarray:
        return std * _normal(seed, key, n)

    if key == "gram_merge.weight" and n == 2:
        return np.array(_GRAM_MERGE, dtype=np.float64)
    if key == "cls_merge.weight" and n == 2:
        return np.array(_CLS_MERGE, dtype=np.float64)
    if key == "CrossAttention.weight":
        return unif(-_APA_BILINEAR_BOUND, _APA_BILINEAR_BOUND)
    if key.startswith("kshot_rw.") and leaf == "bias":
        return unif(-1.0, 1.0)
    if leaf == "running_mean":
        return normal(0.1)
    if leaf == "running_var":
        return unif(0.5, 1.5)
    if leaf == "weight" and len(shape) >= 2:
        fan_in = _fan_in(shape)
        w = normal(math.sqrt(2.0 / fan_in))
        if len(shape) == 4 and fan_in >= _CENTER_MIN_FAN_IN and not key.startswith("kshot_rw."):
            w = _zero_sum_rows(w, shape[0])
            if key.startswith(_BN_FOLLOWED_PREFIXES):
                w = w * _CENTERED_GAIN
        if _is_residual_tail(key):
            w = w * _RESIDUAL_TAIL_SCALE
        return w
    if leaf == "weight" and is_bn:
        return unif(0.2, 0.3) if last == "bn3" else unif(0.5, 1.0)
    if leaf == "weight":  # GroupNorm (or any other 1-D affine scale)
        return unif(0.8, 1.2)
    return normal(0.05)  # biases, BN beta


def seeded_state_dict(template: Mapping[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
    """Fill every entry of ``template`` with deterministic values (see module docstring).

    Args:
        template: a state_dict whose keys, shapes and dtypes are to be reproduced (e.g.
            ``model.state_dict()`` of our ``SymNet`` or of the reference implementation; the
            key names must follow the official checkpoint).
        seed: any integer; the low 32 bits are used.

    Returns:
        A new dict with one CPU tensor per key, same shape and dtype as the template. Integer
        entries (``num_batches_tracked``) are zero.
    """
    bn_modules = {k.rpartition(".")[0] for k in template if k.endswith(".running_var")}
    out: dict[str, torch.Tensor] = {}
    for key, ref in template.items():
        shape = tuple(ref.shape)
        if not ref.dtype.is_floating_point:
            out[key] = torch.zeros(shape, dtype=ref.dtype)
            continue
        is_bn = key.rpartition(".")[0] in bn_modules
        vals = _values(key, shape, seed, is_bn).astype(np.float32).reshape(shape)
        out[key] = torch.from_numpy(vals).to(ref.dtype)
    return out


def state_dict_fingerprint(state_dict: Mapping[str, torch.Tensor]) -> str:
    """sha256 over the sorted keys, shapes, dtypes and raw bytes of a state_dict (CPU)."""
    h = hashlib.sha256()
    for key in sorted(state_dict):
        t = state_dict[key].detach().cpu().contiguous()
        h.update(f"{key}|{tuple(t.shape)}|{t.dtype}|".encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.view(torch.int16).numpy().tobytes())
    return h.hexdigest()
