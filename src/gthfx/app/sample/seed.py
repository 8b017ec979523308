"""The draw's seed: given, drawn from a secure source, or committed before the draw and revealed
with it (commit–reveal).

Commit–reveal: `gthfx sample commit --out seed.json` draws a seed and a salt (128 bits each,
`secrets`) and writes them with the commitment, the SHA-256 of `"{salt}|{seed}"` (lowercase hex),
which the bureau publishes before the draw. The draw (`--seed-file seed.json`) uses the seed and
records seed, salt and commitment in its manifest; anyone can then check that the published
commitment is the SHA-256 of `"{salt}|{seed}"` — the seed was fixed before the draw and not
chosen after seeing its result. Never prints.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from gthfx.errors import ConfigError, InputError

SEED_BYTES = 16


@dataclass(frozen=True)
class Seed:
    value: str
    source: str  # given / generated / committed
    salt: str | None = None
    commitment: str | None = None


def commitment_of(seed: str, salt: str) -> str:
    return hashlib.sha256(f"{salt}|{seed}".encode()).hexdigest()


def check_seed(value: str, where: str) -> str:
    if not value or not value.isprintable() or value != value.strip():
        raise ConfigError(
            f"{where}: a seed is printable text without leading or trailing spaces, found {value!r}"
        )
    return value


def new_seed() -> Seed:
    """A seed from the operating system's secure source."""
    return Seed(value=secrets.token_hex(SEED_BYTES), source="generated")


def write_commitment(path: Path) -> Seed:
    """Draw a seed and a salt, write them with their commitment to `path` (never replaced: a
    second commitment would defeat the first) and return them."""
    if path.exists():
        raise ConfigError(
            f"{path}: already exists", hint="a commitment is made once; choose another file"
        )
    if not path.resolve().parent.is_dir():
        raise ConfigError(f"{path}: the folder {path.parent} does not exist")
    seed = secrets.token_hex(SEED_BYTES)
    salt = secrets.token_hex(SEED_BYTES)
    committed = Seed(seed, "committed", salt, commitment_of(seed, salt))
    data = {"seed": seed, "salt": salt, "commitment": committed.commitment}
    with path.open("x", encoding="utf-8") as fh:
        fh.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return committed


def read_commitment(path: Path) -> Seed:
    """A seed file written by `write_commitment`; it must hold its own commitment."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a seed file ({exc})") from None
    if not isinstance(data, dict) or not all(
        isinstance(data.get(k), str) for k in ("seed", "salt", "commitment")
    ):
        raise InputError(f"{path}: a seed file holds seed, salt and commitment (text)")
    seed = check_seed(data["seed"], str(path))
    if commitment_of(seed, data["salt"]) != data["commitment"]:
        raise InputError(
            f"{path}: the commitment is not the SHA-256 of salt|seed: the file was altered"
        )
    return Seed(seed, "committed", data["salt"], data["commitment"])
