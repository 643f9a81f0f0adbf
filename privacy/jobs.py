"""Scheduled privacy work: none yet. The inventory is computed on demand from the ``pii.*``
tags (an aggregation, cheap) and expired unmask grants are refused when used; the module exists
so the domain keeps the platform's models / service / jobs shape."""

from __future__ import annotations

__all__: list[str] = []
