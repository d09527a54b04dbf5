"""Secret sources: where ``${file:...}``, ``VAR_FILE``, ``${secretsmanager:...}``,
``${ssm:...}`` and a project's own ``${vault:...}`` get their values.

Each provider is a small module with the same shape, a ``fetch(reference) -> str``
that raises a ``LookupError`` for "no such secret" and anything else for "cannot
tell" (:mod:`._base`): :mod:`.file`, :mod:`.secretsmanager`, :mod:`.ssm`. They
are registered exactly as a plugin's are, as entry points of the group
``envres.secret_sources`` in envres's own metadata, so their code is the example
of a plugin. A project adds its own in ``[tool.envres.secret_sources]``.

The grammar lives in :mod:`envres._interpolate` (pure); :func:`resolve_all`
fetches every reference a profile needs at once, each once, with a timeout.
"""

from __future__ import annotations

from envres._sources._registry import (
    DEFAULT_TIMEOUT,
    ENTRY_POINT_GROUP,
    NAME,
    SourceRegistry,
    resolve_all,
)

__all__ = ["DEFAULT_TIMEOUT", "ENTRY_POINT_GROUP", "NAME", "SourceRegistry", "resolve_all"]
