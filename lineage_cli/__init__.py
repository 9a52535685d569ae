"""The ``lineage`` command line: the questions users ask of the lineage plane."""
