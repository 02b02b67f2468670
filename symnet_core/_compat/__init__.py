"""Environment workarounds (kept small, each documented in an ADR)."""
