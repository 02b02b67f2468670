"""Synthetic few-shot data: the class table (:mod:`.classes`), drawing primitives (:mod:`.drawing`),
the seeded dataset (:mod:`.generator`) and the annotation demo's image folder (:mod:`.demo_folder`)."""

from symnet_core.training.synthetic.classes import ATTRIBUTES, GENERATOR_VERSION, SHAPES, TEXTURES, ClassSpec
from symnet_core.training.synthetic.demo_folder import (
    DEMO_DATASET,
    dataset_from_metadata,
    demo_dataset,
    demo_folder_is_current,
    make_demo_folder,
)
from symnet_core.training.synthetic.generator import SyntheticEpisode, SyntheticFewShot

__all__ = [
    "ATTRIBUTES",
    "DEMO_DATASET",
    "GENERATOR_VERSION",
    "SHAPES",
    "TEXTURES",
    "ClassSpec",
    "SyntheticEpisode",
    "SyntheticFewShot",
    "dataset_from_metadata",
    "demo_dataset",
    "demo_folder_is_current",
    "make_demo_folder",
]
