"""The toy-table reproduction of ``tools/analysis_tools/toy_tables.py``:
:mod:`.rows` (the paper's tables as toy configs), :mod:`.run_queue` (training
and scoring the missing runs), :mod:`.ledger` (runs kept across machines),
:mod:`.stats` (paired deltas and their confidence intervals) and
:mod:`.render` (markdown, CSV and PNG); :mod:`.run_logs` reads a work_dir's
metrics, :mod:`.short_run` shortens a config to a smoke run."""
