"""Counter-based random numbers of the sandbox org: splitmix64 hashes of what they describe.

A queue attribute hashes (seed, queue index, attribute); a conversation field hashes (seed, restatement salt,
queue, media type, local day, conversation number, field). A number therefore never depends on which range is
queried or in which order days are generated, and every draw is vectorised with numpy: `hash_key` turns
coordinates into uint64 keys, and `uniform`, `uniforms`, `normal` and `exponential` draw a numbered field
per key. `stable_uuid` names an object from its coordinates.
"""

from __future__ import annotations

import hashlib
import uuid

import numpy as np

_MASK64 = (1 << 64) - 1
GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on a uint64 array (wrapping arithmetic)."""
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


def hash_key(*parts: int | np.ndarray) -> np.ndarray:
    """Hash a sequence of integers (scalars or equal-length arrays) into uint64 keys."""
    h = np.zeros(1, dtype=np.uint64)
    for part in parts:
        if isinstance(part, np.ndarray):
            arr = part.astype(np.int64).astype(np.uint64)
        else:
            arr = np.array([int(part) & _MASK64], dtype=np.uint64)
        h = mix(h ^ (arr + GOLDEN))
    return h


def uniform(keys: np.ndarray, field_id: int) -> np.ndarray:
    """Uniform [0, 1) numbers, one per key, for a numbered field."""
    salt = np.uint64((field_id * 0xD1B54A32D192ED03 + 0x632BE59BD9B4E019) & _MASK64)
    return (mix(keys ^ salt) >> np.uint64(11)).astype(np.float64) * (2.0**-53)


def uniforms(keys: np.ndarray, field_id: int, count: int) -> list[np.ndarray]:
    """``count`` (at most 3) independent uniform [0, 1) numbers per key from one hash, each from its own 21
    bits: cheaper than one hash per number, with a resolution of 2**-21."""
    salt = np.uint64((field_id * 0xD1B54A32D192ED03 + 0x632BE59BD9B4E019) & _MASK64)
    h = mix(keys ^ salt)
    mask = np.uint64((1 << 21) - 1)
    return [((h >> np.uint64(21 * i)) & mask).astype(np.float64) * (2.0**-21) for i in range(count)]


def normal(keys: np.ndarray, field_id: int) -> np.ndarray:
    """Standard normal numbers (Box-Muller on two hashed uniforms)."""
    u1 = 1.0 - uniform(keys, field_id)
    u2 = uniform(keys, field_id + 1000)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def exponential(keys: np.ndarray, field_id: int, mean: np.ndarray | float) -> np.ndarray:
    return -np.log(1.0 - uniform(keys, field_id)) * mean


def stable_uuid(*parts: object) -> str:
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=16).digest()
    return str(uuid.UUID(bytes=digest, version=4))
