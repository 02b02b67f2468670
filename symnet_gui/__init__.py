"""symnet_gui: the PySide6 desktop app of symnet-annotate.

Importing this package imports nothing heavy (no Qt, no torch): ``python -m symnet_gui propagate``
hands headless subcommands to :mod:`symnet_core.cli.annotate` without ever loading Qt. The window is
built by :func:`symnet_gui.__main__.main`.

Layers (docs/adr/0002, docs/adr/0005-gui-architecture.md): widgets and canvas -> ``document`` ->
``services`` -> ``symnet_core``. Only ``services/`` talks to the model, and only on its worker
thread.
"""

from __future__ import annotations

__all__: list[str] = []
