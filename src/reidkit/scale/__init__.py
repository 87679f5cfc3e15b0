"""Scaling out: video archives cut into segments and processed by a pool of workers (Ray), live cameras as
restartable actors. `segments` and `stitch` are pure; `work` is what a worker runs (no Ray); `ray_jobs` is the
only module that imports Ray."""
