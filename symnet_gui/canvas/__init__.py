"""The painting canvas: a ``QGraphicsView`` (zoom, pan), scene items (image, mask overlay,
uncertainty overlay) and small tools behind one :class:`~symnet_gui.canvas.tools.base.Tool`
protocol. Frames are described in :mod:`symnet_gui.canvas.layers`."""

from __future__ import annotations
