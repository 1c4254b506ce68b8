"""Each key's help line, read from its YAML line: a key's default and its help text are the line
that sets it in the shipped configs (configs/COMMAND.yaml, configs/GROUP/OPTION.yaml), so the
help a command prints (`aecli train --help`) cannot drift from the file a user reads.

`key_comments` reads the comment after each key (`epochs: 30  # passes over the training
split`), continued by comment-only lines whose `#` stands in the same column, under the key's
dotted path (`trainer.epochs`; an option file's `# @package regularizer.vae` header or the
group's name as its prefix). `header` is a file's leading comment block. PyYAML drops comments,
so the lines are read as text: block mappings only, which is how every shipped config is written.
"""

from __future__ import annotations

import re

KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z_][\w]*):(?P<rest>.*)$")
PACKAGE = re.compile(r"^#\s*@package\s+(?P<package>[\w.]+)\s*$")


def key_comments(text: str, prefix: str = "") -> dict[str, str]:
    """`dotted key -> its help text` of the YAML `text` ('' for a key without a comment)."""
    comments: dict[str, str] = {}
    path: list[tuple[int, str]] = []  # (indent, key) of the mappings the current line is in
    last_key, last_column = None, -1
    for line in text.splitlines():
        package = PACKAGE.match(line.strip())
        if package and not path:
            prefix = package["package"]
            continue
        stripped = line.lstrip()
        if stripped.startswith("#"):
            column = len(line) - len(stripped)
            if last_key is not None and column == last_column:  # the previous key's comment goes on
                comments[last_key] = f"{comments[last_key]} {stripped.lstrip('#').strip()}".strip()
            else:
                last_key = None
            continue
        match = KEY_LINE.match(line)
        if not match:
            last_key = None if stripped else last_key
            continue
        indent = len(match["indent"])
        path = [(i, k) for i, k in path if i < indent] + [(indent, match["key"])]
        key = ".".join([*([prefix] if prefix else []), *(k for _, k in path)])
        column = comment_column(match["rest"])
        comments[key] = "" if column < 0 else match["rest"][column + 1:].strip()
        last_key, last_column = key, (-1 if column < 0 else len(line) - len(match["rest"]) + column)
    return comments


def comment_column(text: str) -> int:
    """Where the comment of a YAML value starts (a `#` after a space, outside quotes), or -1."""
    quote = None
    for i, char in enumerate(text):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or text[i - 1].isspace()):
            return i
    return -1


def header(text: str) -> str:
    """The file's leading comment block as one paragraph (an `@package` line left out)."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        if not PACKAGE.match(line):
            lines.append(line.lstrip("#").strip())
    return " ".join(line for line in lines if line)
