"""MLPS 2.0 (等级保护 2.0) compliance.

- ``catalogs/*.yaml``: GB/T 22239-2019 level 2 and 3 general requirements with GB/T 28448-2019
  test ids (``catalog.py`` loads and validates them; another framework is another file).
- ``checks/*.yaml``: declarative host checks (``probes.py``, ``accounts.py``) and platform checks
  (``platform.py``), each mapped to catalog items and carrying remediation.
- ``targets.py``: the local host, a copied root directory, or an SSH host (paramiko).
- ``engine.py`` runs checks and derives per-item, per-asset results; ``scoring.py`` estimates the
  score in the 测评 convention; ``service.py`` stores runs and manual assessments;
  ``reporting.py`` + ``reports/`` render HTML, PDF, JSON and CSV; ``jobs.py`` schedules runs.
"""
