"""Propagation beyond one process: Ray Data workers (:mod:`.ray_engine`) and scheduler shards (:mod:`.shards`).

Ray is an optional extra (``pip install "symnet-annotate[distributed]"``) and is imported only
inside :mod:`.ray_engine`'s functions: importing this package, :mod:`.worker` or :mod:`.shards`
never imports Ray. Every engine shares the serial path's model steps
(:mod:`symnet_core.workflows.prediction_steps`) and project bookkeeping
(:mod:`symnet_core.workflows.run_book`), so masks are byte-identical to a serial run's.
"""
