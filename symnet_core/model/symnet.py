"""Sym-Net assembled from its parts, with the official module names.

The model is split into a support encoder, a query encoder and a decoder so that a predictor can
encode supports once and decode many queries. :meth:`SymNet.forward` chains the three and returns
what the authors' eval forward returns.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from symnet_core.model.apa import APA
from symnet_core.model.backbone import build_dilated_resnet, extract_features
from symnet_core.model.base_learner import build_base_learner
from symnet_core.model.config import SymNetConfig
from symnet_core.model.correlation import TDC, mean_hyper_correlation, support_columns
from symnet_core.model.gram import build_shot_reweighter, gram_distance, gram_matrix, shot_weights
from symnet_core.model.prior import (
    SupportPriorKeys,
    official_prior,
    pyramid_priors,
    query_prior,
    support_prior_keys,
)
from symnet_core.model.prototypes import QueryPrototypes, masked_average_pool, query_prototypes

TDC_CHANNELS = 48
#: Top-level modules of the meta-learner head, i.e. everything but backbone and base learner
#: (plus ``kshot_rw`` for K > 1). Official names.
HEAD_MODULES = (
    "hyper_final", "down_query", "down_supp", "alpha_conv", "init_merge", "beta_conv", "inner_cls", "res1", "res2",
    "cls", "gram_merge", "cls_merge", "CrossAttention",
)  # fmt: skip


@dataclass
class SupportEncoding:
    """Everything Sym-Net needs from one support shot; independent of the query.

    Batch ``Bs`` is the episode batch, or 1 for a support shared by every query.

    Attributes:
        mask: [Bs,1,S,S] float foreground mask (label == 1) at input resolution.
        gram: [Bs,C2,C2] Gram matrix of the support's layer-2 features.
        prior_keys: SPM support keys (one [Bs,C4] per window).
        columns: TDC unit foreground columns, ``columns[layer][item]`` = [C_l, N].
        text_prototype: [Bs,C] APA output for the support (t_k).
        mid: [Bs,C,f,f] support mid-level features (down_supp output); used by training losses.
        mask_grid: [Bs,1,f,f] the mask bilinearly resized to the feature grid.
        layer4: [Bs,C4,f,f] support layer-4 features, kept only for the literal (quadratic) SPM of
            ``prior="official"``; ``None`` otherwise.
    """

    mask: torch.Tensor
    gram: torch.Tensor
    prior_keys: SupportPriorKeys
    columns: list[list[torch.Tensor]]
    text_prototype: torch.Tensor
    mid: torch.Tensor
    mask_grid: torch.Tensor
    layer4: torch.Tensor | None = None


@dataclass
class QueryEncoding:
    """Query-side features: everything that does not depend on the supports.

    Attributes:
        mid: [B,C,f,f] down_query output. layer2: [B,C2,f,f]. layer4: [B,C4,f,f].
        hyper: pre-ReLU bottleneck features of layers 2–4. gram: [B,C2,C2].
        base_logits: [B,N_base,f,f] base-learner logits on the feature grid, or ``None`` when
            the query was encoded for meta-only use.
    """

    mid: torch.Tensor
    layer4: torch.Tensor
    hyper: list[torch.Tensor]
    gram: torch.Tensor
    base_logits: torch.Tensor | None


@dataclass
class SymNetOutput:
    """Outputs of one forward pass.

    Attributes:
        final: [B,2,H,W] ensemble "logits" (linear mixes of probabilities; argmax = prediction).
        meta: [B,2,H,W] meta-learner logits. base: [B,N_base,H,W] base-learner logits.
        H = W = S after :meth:`SymNet.forward`; the feature-grid size from :meth:`SymNet.decode`
        with ``upsample=False``.
        aux: training extras (pyramid logits, prototypes, ...), empty unless requested.
    """

    final: torch.Tensor
    meta: torch.Tensor
    base: torch.Tensor
    aux: dict[str, object] = field(default_factory=dict)


def _conv_relu(cin: int, cout: int, k: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel_size=k, padding=k // 2, bias=False), nn.ReLU(inplace=True))


def _classifier(dim: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(dim, dim, kernel_size=3, padding=1, bias=False),
        nn.ReLU(inplace=True),
        nn.Dropout2d(p=0.1),
        nn.Conv2d(dim, 2, kernel_size=1),
    )


def _reduce(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel_size=1, bias=False), nn.ReLU(inplace=True), nn.Dropout2d(p=0.5))


def _resize(x: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    if isinstance(size, int):
        size = (size, size)
    return F.interpolate(x, size=size, mode="bilinear", align_corners=True)


class SymNet(nn.Module):
    """Sym-Net few-shot segmenter (architecture only; usage lives in :class:`symnet_core.Predictor`).

    State-dict keys and shapes equal the official checkpoints', so they load strictly.
    """

    def __init__(self, config: SymNetConfig | None = None) -> None:
        super().__init__()
        cfg = config or SymNetConfig()
        self.config = cfg
        c = cfg.stage_channels
        dim = cfg.reduce_dim
        bins = cfg.pyramid_bins or ()
        self.stage_sizes = (cfg.bottlenecks[1], cfg.bottlenecks[2], cfg.bottlenecks[3])

        self.layer0, self.layer1, self.layer2, self.layer3, self.layer4 = build_dilated_resnet(
            cfg.bottlenecks, cfg.backbone_width
        )
        self.learner_base = build_base_learner(c[4], cfg.num_base_outputs, hidden=c[4] // 4)
        self.down_query = _reduce(cfg.mid_channels, dim)
        self.down_supp = _reduce(cfg.mid_channels, dim)
        self.init_merge = nn.ModuleList(_conv_relu(2 * dim + TDC_CHANNELS + 1, dim) for _ in bins)
        self.alpha_conv = nn.ModuleList(_conv_relu(2 * dim, dim) for _ in bins[1:])
        self.beta_conv = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(dim, dim, kernel_size=3, padding=1, bias=False),
                nn.ReLU(inplace=True),
                nn.Conv2d(dim, dim, kernel_size=3, padding=1, bias=False),
                nn.ReLU(inplace=True),
            )
            for _ in bins
        )
        self.inner_cls = nn.ModuleList(_classifier(dim) for _ in bins)
        self.res1 = _conv_relu(dim * len(bins), dim)
        self.res2 = nn.Sequential(
            nn.Conv2d(dim, dim, kernel_size=3, padding=1, bias=False),
            nn.ReLU(inplace=True),
            nn.Conv2d(dim, dim, kernel_size=3, padding=1, bias=False),
            nn.ReLU(inplace=True),
        )
        self.cls = _classifier(dim)
        self.hyper_final = TDC(self.stage_sizes, out_channels=TDC_CHANNELS)
        self.gram_merge = nn.Conv2d(2, 1, kernel_size=1, bias=False)
        self.cls_merge = nn.Conv2d(2, 1, kernel_size=1, bias=False)
        with torch.no_grad():
            self.gram_merge.weight.copy_(torch.tensor([1.0, 0.0]).reshape(1, 2, 1, 1))
            self.cls_merge.weight.copy_(torch.tensor([1.0, 0.0]).reshape(1, 2, 1, 1))
        if cfg.shots > 1:
            self.kshot_rw = build_shot_reweighter(cfg.shots)
        self.CrossAttention = APA(cfg.text_dim, dim)

    # ------------------------------------------------------------------------------------------
    @property
    def backbone(self) -> tuple[nn.Module, nn.Module, nn.Module, nn.Module, nn.Module]:
        return (self.layer0, self.layer1, self.layer2, self.layer3, self.layer4)

    def frozen_modules(self) -> list[nn.Module]:
        """Modules that are never trained (backbone and base learner)."""
        return [*self.backbone, self.learner_base]

    def head_names(self) -> tuple[str, ...]:
        """Top-level names of the meta-learner head (official key prefixes), in a fixed order."""
        names = HEAD_MODULES + (("kshot_rw",) if hasattr(self, "kshot_rw") else ())
        return tuple(n for n in names if n in self._modules)

    def trainable_modules(self) -> list[nn.Module]:
        """The meta-learner head that training and test-time adaptation update."""
        return [self._modules[n] for n in self.head_names()]  # type: ignore[misc]

    def prepare_head_training(self) -> list[nn.Parameter]:
        """Freeze backbone and base learner, unfreeze the head; returns the head's parameters.

        Call :meth:`head_train_mode` before each training step (evaluation switches to eval mode).
        """
        for mod in self.frozen_modules():
            for p in mod.parameters():
                p.requires_grad_(False)
        params = [p for mod in self.trainable_modules() for p in mod.parameters()]
        for p in params:
            p.requires_grad_(True)
        return params

    def head_train_mode(self) -> None:
        """Train mode for the head (dropout on); the frozen parts stay in eval mode (BN statistics fixed)."""
        self.train()
        for mod in self.frozen_modules():
            mod.eval()

    def head_state_dict(self) -> dict[str, torch.Tensor]:
        """Parameters and buffers of the head only (official key names, detached copies)."""
        heads = set(self.head_names())
        return {k: v.detach().clone() for k, v in self.state_dict().items() if k.split(".", 1)[0] in heads}

    def with_own_head(self) -> SymNet:
        """A model that shares this one's frozen backbone and base learner but owns a copy of the head.

        Test-time adaptation trains the copy, so every other user of this model (other classes'
        predictors) keeps the original head; the frozen parts are not duplicated in memory.
        """
        clone = copy.copy(self)  # shallow: same __dict__ entries...
        clone._modules = dict(self._modules)  # ...but its own module table
        clone._parameters = dict(self._parameters)
        clone._buffers = dict(self._buffers)
        for name in self.head_names():
            clone._modules[name] = copy.deepcopy(self._modules[name])
        return clone

    def _check_input(self, x: torch.Tensor, name: str) -> None:
        s = self.config.image_size
        if x.dim() != 4 or x.shape[1] != 3 or x.shape[2] != s or x.shape[3] != s:
            raise ValueError(f"{name} must be [B,3,{s},{s}], got {list(x.shape)}")

    # ------------------------------------------------------------------------------------------
    def encode_support(
        self, image: torch.Tensor, label: torch.Tensor, text: torch.Tensor, *, keep_layer4: bool = False
    ) -> SupportEncoding:
        """Encode one support shot.

        Args:
            image: [B,3,S,S] ImageNet-normalised support image.
            label: [B,S,S] (or [B,1,S,S]) support label: 1 object, 0 background, 255 ignore
                (ignore counts as background, as in the official code).
            text: [B,D] class-name embedding.
            keep_layer4: keep the layer-4 map for the literal SPM (``prior="official"``).
        """
        self._check_input(image, "support image")
        if label.dim() == 3:
            label = label.unsqueeze(1)
        mask = (label == 1).to(image.dtype)
        with torch.no_grad():
            feats = extract_features(self.backbone, image)
        l2, l3, l4 = feats.stages[2], feats.stages[3], feats.stages[4]
        mask_grid = _resize(mask, l3.shape[-2:])
        mid = self.down_supp(torch.cat([l3, l2], dim=1))
        proto = masked_average_pool(mid, mask_grid)
        text_proto = self.CrossAttention(mid * mask_grid, text, proto)
        return SupportEncoding(
            mask=mask,
            gram=gram_matrix(l2),
            prior_keys=support_prior_keys(l4, mask),
            columns=support_columns(feats.hyper, mask),
            text_prototype=text_proto,
            mid=mid,
            mask_grid=mask_grid,
            layer4=l4 if keep_layer4 else None,
        )

    def encode_query(self, image: torch.Tensor, *, with_base: bool = True) -> QueryEncoding:
        """Encode a batch of queries [B,3,S,S] (ImageNet-normalised).

        ``with_base=False`` skips the base learner (meta-only decoding), about a third of the cost.
        """
        self._check_input(image, "query image")
        with torch.no_grad():
            feats = extract_features(self.backbone, image)
            base_logits = self.learner_base(feats.stages[4]) if with_base else None
        l2, l3, l4 = feats.stages[2], feats.stages[3], feats.stages[4]
        if l4.shape[-1] != self.config.feature_size:
            raise ValueError(f"feature grid {l4.shape[-1]} != expected {self.config.feature_size}")
        return QueryEncoding(
            mid=self.down_query(torch.cat([l3, l2], dim=1)),
            layer4=l4,
            hyper=feats.hyper,
            gram=gram_matrix(l2),
            base_logits=base_logits,
        )

    # ------------------------------------------------------------------------------------------
    def shot_weights(self, query: QueryEncoding, shots: list[SupportEncoding]) -> tuple[torch.Tensor, torch.Tensor]:
        """Gram distances [B,K] and softmax shot weights [B,K] for these shots."""
        dist = torch.stack([gram_distance(query.gram, s.gram) for s in shots], dim=1)
        if len(shots) > 1 and len(shots) != self.config.shots:
            raise ValueError(f"this model takes 1 or {self.config.shots} shots per decode, got {len(shots)}")
        return dist, shot_weights(dist, getattr(self, "kshot_rw", None))

    def decode(
        self,
        query: QueryEncoding,
        shots: list[SupportEncoding],
        text: torch.Tensor,
        *,
        upsample: bool = True,
        return_aux: bool = False,
        exclude_base_class: torch.Tensor | None = None,
        prior: str = "fast",
    ) -> SymNetOutput:
        """Segment the encoded queries with the encoded shots.

        Args:
            query: batch B of encoded queries.
            shots: K encoded supports, each of batch B or 1.
            text: [B,D] (or [1,D]) class-name embedding.
            upsample: bilinearly upsample outputs to S×S as the official forward does.
            return_aux: also return the pyramid logits and prototypes that training needs.
            exclude_base_class: [B] base-learner channel of the episode's class (training on base
                classes, ``cls_type='Base'``); that channel is left out of the base map.
            prior: ``"fast"`` (matrix–vector SPM) or ``"official"`` (the literal quadratic form;
                needs shots encoded with ``keep_layer4=True``).

        Without base logits (``encode_query(with_base=False)``) ``final`` and ``base`` are the
        meta logits and an empty tensor: use ``meta``.
        """
        bins = self.config.pyramid_bins or ()
        b = query.mid.shape[0]
        k = len(shots)
        text = text.expand(b, -1) if text.shape[0] == 1 else text

        l4, l3, l2 = mean_hyper_correlation(query.hyper, [s.columns for s in shots], self.stage_sizes)
        tdc = self.hyper_final(l4, l3, l2)

        dist, weights = self.shot_weights(query, shots)
        est = (weights * dist).sum(dim=1)  # [B]
        priors = torch.cat([self._shot_prior(query.layer4, s, prior) for s in shots], dim=1)
        prior = (weights.reshape(b, k, 1, 1) * priors).sum(dim=1, keepdim=True)
        prior_levels = pyramid_priors(prior, bins)

        support_text = torch.stack([s.text_prototype.expand(b, -1) for s in shots], dim=1)  # [B,K,C]
        support_text = (weights.unsqueeze(-1) * support_text).sum(dim=1)
        protos = query_prototypes(query.mid, prior, need_all=return_aux)
        query_text = self.CrossAttention(query.mid * prior, text, protos.foreground)
        hybrid = (0.5 * query_text + 0.5 * support_text)[:, :, None, None]

        meta, inner = self._merge_pyramid(query.mid, hybrid, tdc, prior_levels, with_inner=return_aux)
        if query.base_logits is None:
            final, base = meta, meta.new_zeros((b, 0, *meta.shape[-2:]))
        else:
            final = self._ensemble(meta, query.base_logits, est, exclude_base_class)
            base = query.base_logits
        if upsample:
            s = self.config.image_size
            final, meta = _resize(final, s), _resize(meta, s)
            base = _resize(base, s) if base.shape[1] else base.new_zeros((b, 0, s, s))
        aux: dict[str, object] = {}
        if return_aux:
            aux = {
                "inner_logits": inner,
                "query_prototypes": protos,
                "query_text": query_text,
                "support_text": support_text,
                "prior": prior,
                "shot_weights": weights,
            }
        return SymNetOutput(final=final, meta=meta, base=base, aux=aux)

    @staticmethod
    def _shot_prior(query_l4: torch.Tensor, shot: SupportEncoding, mode: str) -> torch.Tensor:
        if mode == "fast":
            return query_prior(query_l4, shot.prior_keys)
        if mode == "official":
            if shot.layer4 is None:
                raise ValueError('prior="official" needs supports encoded with keep_layer4=True')
            b = query_l4.shape[0]
            return official_prior(query_l4, shot.layer4.expand(b, -1, -1, -1), shot.mask.expand(b, -1, -1, -1))
        raise ValueError(f"prior must be 'fast' or 'official', got {mode!r}")

    def _merge_pyramid(
        self, mid: torch.Tensor, hybrid: torch.Tensor, tdc: torch.Tensor, priors: list[torch.Tensor],
        *, with_inner: bool = True,
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Pyramid merge → (meta logits, per-level ``inner_cls`` logits — only for training losses,
        empty when ``with_inner`` is False)."""
        bins = self.config.pyramid_bins or ()
        grid = mid.shape[-2:]
        levels: list[torch.Tensor] = []
        inner: list[torch.Tensor] = []
        for i, b in enumerate(bins):
            x = torch.cat(
                [F.adaptive_avg_pool2d(mid, b), hybrid.expand(-1, -1, b, b), _resize(tdc, b), priors[i]], dim=1
            )
            x = self.init_merge[i](x)
            if i > 0:
                prev = _resize(levels[i - 1], b)
                x = self.alpha_conv[i - 1](torch.cat([x, prev], dim=1)) + x
            x = self.beta_conv[i](x) + x
            if with_inner:
                inner.append(self.inner_cls[i](x))
            levels.append(_resize(x, grid))
        x = self.res1(torch.cat(levels, dim=1))
        x = self.res2(x) + x
        return self.cls(x), inner

    def _ensemble(
        self, meta: torch.Tensor, base_logits: torch.Tensor, est: torch.Tensor, exclude: torch.Tensor | None
    ) -> torch.Tensor:
        meta_p = meta.softmax(dim=1)
        base_p = base_logits.softmax(dim=1)
        if exclude is None:
            base_map = base_p[:, 1:].sum(dim=1, keepdim=True)
        else:
            keep = torch.ones_like(base_p[:, :, :1, :1])
            keep[:, 0] = 0
            keep.scatter_(1, exclude.reshape(-1, 1, 1, 1).long(), 0.0)
            base_map = (base_p * keep).sum(dim=1, keepdim=True)
        est_map = est.reshape(-1, 1, 1, 1).expand_as(meta_p[:, :1])
        bg = self.gram_merge(torch.cat([meta_p[:, :1], est_map], dim=1))
        fg = self.gram_merge(torch.cat([meta_p[:, 1:], est_map], dim=1))
        bg = self.cls_merge(torch.cat([bg, base_map], dim=1))
        return torch.cat([bg, fg], dim=1)

    # ------------------------------------------------------------------------------------------
    def forward(
        self,
        query: torch.Tensor,
        supports: torch.Tensor,
        support_masks: torch.Tensor,
        text: torch.Tensor,
        *,
        return_aux: bool = False,
        exclude_base_class: torch.Tensor | None = None,
        prior: str = "fast",
    ) -> SymNetOutput:
        """One batch of episodes, as the authors' forward in eval mode.

        Args:
            query: [B,3,S,S] ImageNet-normalised (official val transform).
            supports: [B,K,3,S,S]. support_masks: [B,K,S,S] with 1 object, 0 background, 255 ignore.
            text: [B,D] class-name embedding.
            prior: ``"fast"`` SPM (default) or the literal ``"official"`` quadratic form.

        Returns:
            :class:`SymNetOutput` with ``final`` [B,2,S,S], ``meta`` [B,2,S,S], ``base`` [B,N,S,S].
        """
        if supports.dim() != 5 or support_masks.dim() != 4:
            raise ValueError(
                f"supports must be [B,K,3,S,S] and masks [B,K,S,S], got {list(supports.shape)} "
                f"and {list(support_masks.shape)}"
            )
        keep = prior == "official"
        shots = [
            self.encode_support(supports[:, i], support_masks[:, i], text, keep_layer4=keep)
            for i in range(supports.shape[1])
        ]
        q = self.encode_query(query)
        return self.decode(q, shots, text, return_aux=return_aux, exclude_base_class=exclude_base_class, prior=prior)


__all__ = ["QueryEncoding", "QueryPrototypes", "SupportEncoding", "SymNet", "SymNetOutput"]
