"""scripts/fleet's parts: per-host status records and the fleet summary
(status.py), the kernel matrix gathered across hosts (matrix.py)."""
