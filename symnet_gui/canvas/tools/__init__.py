"""Canvas tools: small classes behind the :class:`~symnet_gui.canvas.tools.base.Tool` protocol."""

from __future__ import annotations

from symnet_gui.canvas.tools.base import Tool, ToolEvent, ToolHost
from symnet_gui.canvas.tools.brush import BrushTool, EraserTool
from symnet_gui.canvas.tools.polygon import PolygonTool

__all__ = ["BrushTool", "EraserTool", "PolygonTool", "Tool", "ToolEvent", "ToolHost", "make_tools"]


def make_tools() -> dict[str, Tool]:
    """One instance of every tool, by name (the names the actions table uses)."""
    tools: list[Tool] = [BrushTool(), EraserTool(), PolygonTool()]
    return {t.name: t for t in tools}
