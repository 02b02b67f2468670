"""Synthetic few-shot data: the generator and the demo folder."""
