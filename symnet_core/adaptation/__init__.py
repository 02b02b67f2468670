"""Test-time adaptation: fine-tuning a copy of the head on a class's supports; per-class heads in a project."""
