"""COCO: export, validation."""
