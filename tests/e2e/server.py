"""The API process the browser tests talk to: ``create_app`` served by uvicorn, as ``soc up`` does.

Started by ``tests/e2e/conftest.py`` in a subprocess (``python -m tests.e2e.server``) with its
settings in the environment (``SOC_ES_URL``, ``SOC_INDEX_PREFIX``, ``SOC_DATA_DIR``, secrets).
"""

from __future__ import annotations

import argparse

import uvicorn

from api.app import create_app
from core.es import Store
from core.schema import install_templates
from core.settings import load_settings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    settings = load_settings()
    store = Store.connect(settings)
    install_templates(store, settings.index_prefix)
    app = create_app(settings, store)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
