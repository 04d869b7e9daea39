"""RFC 9162 §2.1 Merkle tree hashing, proofs and their verification; no database, no Django.

Proofs are built from a `hashes(nodes)` callback that returns the stored hash of each perfect subtree
asked for (level, index), so a proof costs one look-up of O(log² n) small rows. The verifiers follow the
RFC's algorithms (§2.1.3.2 and §2.1.4.2) line by line; clients/python carries a copy of them, so that a
witness needs nothing from this repository.
"""

import hashlib
from collections.abc import Callable, Iterable

Node = tuple[int, int]  # (level, index): the perfect subtree over leaves [index << level, (index + 1) << level)
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaves: list[bytes]) -> bytes:
    """MTH over leaf hashes, straight from the definition (for tests and small trees)."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(root(leaves[:k]), root(leaves[k:]))


class Frontier:
    """The right edge of a growing tree: one perfect subtree root per set bit of the size.

    `append` returns the perfect nodes it completed, so a caller can store them; `root` folds the edge.
    """

    def __init__(self, size: int = 0, edge: list[bytes] | None = None):
        self.size = size
        self.edge = list(edge or [])  # highest subtree first

    def append(self, leaf: bytes) -> list[tuple[Node, bytes]]:
        completed = [((0, self.size), leaf)]
        current, index, level = leaf, self.size, 0
        while index & 1:
            current = node_hash(self.edge.pop(), current)
            index, level = index >> 1, level + 1
            completed.append(((level, index), current))
        self.edge.append(current)
        self.size += 1
        return completed

    def root(self) -> bytes:
        if not self.edge:
            return EMPTY_ROOT
        current = self.edge[-1]
        for left in reversed(self.edge[:-1]):
            current = node_hash(left, current)
        return current


def frontier_nodes(size: int) -> list[Node]:
    """The perfect subtrees whose roots make up the right edge of a tree of `size` leaves, highest first."""
    nodes, start = [], 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            nodes.append((level, start >> level))
            start += 1 << level
    return nodes


# ---- proofs: which subtree hashes they need, then the hashes -----------------------------------


def _range_nodes(start: int, end: int) -> list[Node]:
    width = end - start
    if width & (width - 1) == 0 and start % width == 0:
        return [(width.bit_length() - 1, start // width)]
    k = _split(width)
    return _range_nodes(start, start + k) + _range_nodes(start + k, end)


def _range_hash(start: int, end: int, known: dict[Node, bytes]) -> bytes:
    width = end - start
    if width & (width - 1) == 0 and start % width == 0:
        return known[(width.bit_length() - 1, start // width)]
    k = _split(width)
    return node_hash(_range_hash(start, start + k, known), _range_hash(start + k, end, known))


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose MTHs form PATH(index, D[size]) (RFC 9162 §2.1.3.1), bottom first."""
    ranges, start, end = [], 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    return ranges[::-1]


def consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """The leaf ranges whose MTHs form PROOF(first, D[second]) (RFC 9162 §2.1.4.1), bottom first."""
    ranges, start, end, m, complete = [], 0, second, first, True
    while True:
        n = end - start
        if m == n:
            if not complete:
                ranges.append((start, end))
            break
        k = _split(n)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start, m, complete = start + k, m - k, False
    return ranges[::-1]


def proof_hashes(ranges: list[tuple[int, int]], hashes: Callable[[Iterable[Node]], dict[Node, bytes]]) -> list[bytes]:
    needed = {node for start, end in ranges for node in _range_nodes(start, end)}
    known = hashes(needed)
    return [_range_hash(start, end, known) for start, end in ranges]


# ---- verification (RFC 9162 §2.1.3.2, §2.1.4.2) -------------------------------------------------


def verify_inclusion(index: int, size: int, leaf: bytes, path: list[bytes], root_hash: bytes) -> bool:
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root_hash


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, proof: list[bytes]) -> bool:
    if first < 0 or first > second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof and first_root == EMPTY_ROOT
    if not proof:
        return False
    if first & (first - 1) == 0:
        proof = [first_root, *proof]
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_root and sr == second_root and sn == 0
