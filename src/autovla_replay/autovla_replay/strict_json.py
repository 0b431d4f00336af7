"""JSON that strict parsers accept: NaN and infinities become null, with the reason beside.

``json.dumps`` writes NaN / Infinity by default, which is not JSON (RFC 8259). Every file
this package writes goes through ``dumps``: each non-finite number is replaced by null, and
the document's top-level ``null_reasons`` maps the value's path (``a.b.0``) to why.
"""

import json
import math
from pathlib import Path
from typing import Any, Dict


def _clean(value: Any, path: str, reasons: Dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {key: _clean(item, f'{path}.{key}' if path else str(key), reasons)
                for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(item, f'{path}.{index}', reasons) for index, item in enumerate(value)]
    if hasattr(value, 'item') and not isinstance(value, (str, bytes)):   # numpy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        reasons[path] = ('undefined: nothing to measure (no plans, no samples or no scored '
                         'frames)' if math.isnan(value) else
                         'infinite: division by zero (e.g. no slow plans)')
        return None
    return value


def dumps(document: Dict[str, Any]) -> str:
    """Serialise ``document`` as strict JSON with a ``null_reasons`` entry when needed."""
    reasons: Dict[str, str] = {}
    clean = _clean(document, '', reasons)
    if reasons:
        clean['null_reasons'] = reasons
    return json.dumps(clean, indent=1, allow_nan=False)


def write(path: Path, document: Dict[str, Any]) -> None:
    """Write ``document`` to ``path`` as strict JSON."""
    Path(path).write_text(dumps(document) + '\n', encoding='utf-8')


def read(path: Path) -> Dict[str, Any]:
    """Read a JSON document; null metric values come back as NaN for arithmetic."""
    def nan_for_null(pairs):
        return {key: math.nan if value is None else value for key, value in pairs}
    return json.loads(Path(path).read_text(encoding='utf-8'), object_pairs_hook=nan_for_null)
