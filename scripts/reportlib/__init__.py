"""scripts/report internals: load (results folders), stats, compare (verdicts), renderers."""
