from soc.cli import entrypoint

entrypoint()
