"""PNG masks: export."""
