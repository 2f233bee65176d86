"""Find the line of a TOML key path, so config errors can point at the file (best effort)."""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"'.]+)\s*=")


def _norm(key: str) -> str:
    return ".".join(part.strip().strip("\"'") for part in key.split("."))


def locate_line(text: str, loc: tuple[int | str, ...]) -> int | None:
    """Line number (1-based) of the deepest part of `loc` found in `text`, or None."""
    parts = [p for p in loc if isinstance(p, str | int)]
    if not parts:
        return None
    lines = text.splitlines()
    table: list[str | int] = []
    array_counts: dict[str, int] = {}
    best: tuple[int, int] | None = None  # (matched depth, line)
    for number, line in enumerate(lines, start=1):
        header = _HEADER.match(line)
        if header:
            name = _norm(header.group(2))
            if header.group(1) == "[[":
                array_counts[name] = array_counts.get(name, -1) + 1
                table = [*name.split("."), array_counts[name]]
            else:
                table = list(name.split("."))
            depth = _match_depth(parts, table)
            if depth == len(table) and (best is None or depth > best[0]):
                best = (depth, number)
            continue
        key = _KEY.match(line)
        if key:
            full = table + _norm(key.group(1)).split(".")
            depth = _match_depth(parts, full)
            if depth == len(full) and (best is None or depth > best[0]):
                best = (depth, number)
    return best[1] if best else None


def _match_depth(parts: list[str | int], path: list[str | int]) -> int:
    depth = 0
    for want, have in zip(parts, path, strict=False):
        if str(want) != str(have):
            break
        depth += 1
    return depth
