"""The one YAML loader of the platform.

Safe (no Python object tags), rejects duplicate keys (a silent last-one-wins is how a rule or a
plan ends up doing something other than what its author read), bounded in size, and turns
every parser complaint into ``InvalidInput`` with the file and line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from core.errors import InvalidInput

MAX_YAML_BYTES = 4 * 1024 * 1024
# Aliases are shared references, cheap to parse but exponential to walk ("billion laughs");
# real rule, plan and settings files use a handful at most.
MAX_ALIASES = 200


class _UniqueKeyLoader(yaml.SafeLoader):
    def __init__(self, stream: str | bytes) -> None:
        super().__init__(stream)
        self._aliases = 0

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                event = self.peek_event()  # type: ignore[no-untyped-call]
                raise yaml.composer.ComposerError(
                    None, None, f"more than {MAX_ALIASES} aliases (possible alias bomb)", event.start_mark
                )
        return super().compose_node(parent, index)  # type: ignore[arg-type]


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError as exc:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, "found an unhashable key", key_node.start_mark
            ) from exc
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"found duplicate key {key!r}",
                key_node.start_mark,
            )
        mapping[key] = loader.construct_object(value_node, deep=deep)
    return mapping


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def loads(text: str | bytes, *, source: str = "<string>", multi: bool = False) -> Any:
    """Parse YAML text; ``multi`` returns a list of all documents in the stream."""
    if len(text) > MAX_YAML_BYTES:
        raise InvalidInput(f"{source}: YAML document is larger than {MAX_YAML_BYTES} bytes; split it up.")
    try:
        if multi:
            return list(yaml.load_all(text, Loader=_UniqueKeyLoader))  # noqa: S506 - safe subclass
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - safe subclass
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{source}: invalid YAML: {exc}. Fix the file and try again.") from exc
    except RecursionError as exc:
        raise InvalidInput(f"{source}: YAML nesting too deep.") from exc


def load_file(path: str | Path, *, multi: bool = False) -> Any:
    p = Path(path)
    try:
        if p.stat().st_size > MAX_YAML_BYTES:
            raise InvalidInput(f"{p}: YAML file is larger than {MAX_YAML_BYTES} bytes; split it up.")
        data = p.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"{p}: cannot read YAML file ({exc.strerror}). Check the path.") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{p}: YAML file is not UTF-8 text.") from exc
    return loads(text, source=str(p), multi=multi)


def dumps(data: Any) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
