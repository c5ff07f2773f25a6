"""The measurements of ``tools/analysis_tools/benchmark.py``, one module per
subcommand, and the timing helpers they share (:mod:`.timing`)."""
