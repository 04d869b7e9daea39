"""RFC 9162 hashing and proofs against the Certificate Transparency reference vectors, and the C2SP
signed-note layout against the example the signed-note specification (and Go's sumdb/note) publishes."""

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from likeness_consent_client import witness

from audit import merkle, note

# The reference test tree of Certificate Transparency (transparency-dev/merkle testonly, the vectors of
# RFC 6962 / RFC 9162 §2.1 hashing): leaf inputs, roots by size, and proofs.
LEAF_INPUTS = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                         "606162636465666768696a6b6c6d6e6f")]  # fmt: skip
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = [
    (0, 1, []),
    (0, 2, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"]),
    (1, 2, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]  # fmt: skip
CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]  # fmt: skip


def stored_nodes(leaves: list[bytes]):
    """Build the tree with the integrator's Frontier and answer node look-ups from what it stored."""
    frontier, stored = merkle.Frontier(), {}
    for leaf in leaves:
        stored.update(frontier.append(leaf))
    return frontier, lambda nodes: {node: stored[node] for node in nodes}


def leaf_hashes(count: int) -> list[bytes]:
    return [merkle.leaf_hash(data) for data in LEAF_INPUTS[:count]]


@pytest.mark.parametrize("size", range(9))
def test_roots_match_the_reference_vectors_both_by_definition_and_as_the_integrator_builds_them(size):
    assert merkle.root(leaf_hashes(size)).hex() == ROOTS[size]
    frontier, _ = stored_nodes(leaf_hashes(size))
    assert frontier.root().hex() == ROOTS[size]


@pytest.mark.parametrize(("index", "size", "expected"), INCLUSION)
def test_inclusion_proofs_match_the_reference_vectors_and_verify(index, size, expected):
    _, lookup = stored_nodes(leaf_hashes(8))
    proof = merkle.proof_hashes(merkle.inclusion_ranges(index, size), lookup)
    assert [h.hex() for h in proof] == expected
    root = bytes.fromhex(ROOTS[size])
    assert merkle.verify_inclusion(index, size, leaf_hashes(8)[index], proof, root)
    assert not merkle.verify_inclusion(index, size, merkle.leaf_hash(b"forged"), proof, root)
    if size > 1:
        assert not merkle.verify_inclusion((index + 1) % size, size, leaf_hashes(8)[index], proof, root)


@pytest.mark.parametrize(("first", "second", "expected"), CONSISTENCY)
def test_consistency_proofs_match_the_reference_vectors_and_verify(first, second, expected):
    _, lookup = stored_nodes(leaf_hashes(8))
    proof = merkle.proof_hashes(merkle.consistency_ranges(first, second), lookup) if first != second else []
    assert [h.hex() for h in proof] == expected
    first_root, second_root = bytes.fromhex(ROOTS[first]), bytes.fromhex(ROOTS[second])
    assert merkle.verify_consistency(first, second, first_root, second_root, proof)
    if first != second:
        assert not merkle.verify_consistency(first, second, bytes.fromhex(ROOTS[first - 1]), second_root, proof)


# The standalone verifier in clients/python carries its own copy of the RFC's verification algorithms: the
# same published vectors must pass there, with nothing of this repository's tree code in between.


def test_the_clients_leaf_hash_gives_the_reference_roots():
    leaves = [witness.leaf_hash(data) for data in LEAF_INPUTS]
    assert [merkle.root(leaves[:size]).hex() for size in range(9)] == ROOTS


@pytest.mark.parametrize(("index", "size", "expected"), INCLUSION)
def test_the_clients_inclusion_check_accepts_the_reference_proofs_and_nothing_else(index, size, expected):
    proof, root, leaf = [bytes.fromhex(h) for h in expected], bytes.fromhex(ROOTS[size]), leaf_hashes(8)[index]
    assert witness.verify_inclusion(index, size, leaf, proof, root)
    assert not witness.verify_inclusion(index, size, witness.leaf_hash(b"forged"), proof, root)
    assert not witness.verify_inclusion(index, size, leaf, [*proof, proof[0] if proof else root], root)
    if size > 1:
        assert not witness.verify_inclusion((index + 1) % size, size, leaf, proof, root)
        assert not witness.verify_inclusion(index, size, leaf, proof[:-1], root)


@pytest.mark.parametrize(("first", "second", "expected"), CONSISTENCY)
def test_the_clients_consistency_check_accepts_the_reference_proofs_and_nothing_else(first, second, expected):
    proof = [bytes.fromhex(h) for h in expected]
    first_root, second_root = bytes.fromhex(ROOTS[first]), bytes.fromhex(ROOTS[second])
    assert witness.verify_consistency(first, second, first_root, second_root, proof)
    assert not witness.verify_consistency(second, first, second_root, first_root, proof) or first == second
    if first != second:
        assert not witness.verify_consistency(first, second, bytes.fromhex(ROOTS[first - 1]), second_root, proof)
        assert not witness.verify_consistency(first, second, first_root, bytes.fromhex(ROOTS[second - 1]), proof)
        assert not witness.verify_consistency(first, second, first_root, second_root, proof[:-1])


def test_the_client_treats_the_empty_tree_as_the_rfc_does():
    empty, eight = bytes.fromhex(ROOTS[0]), bytes.fromhex(ROOTS[8])
    assert witness.verify_consistency(0, 8, empty, eight, []) and merkle.verify_consistency(0, 8, empty, eight, [])
    assert not witness.verify_consistency(0, 8, eight, eight, [])
    assert not witness.verify_consistency(0, 8, empty, eight, [eight])


def test_the_client_opens_only_checkpoints_whose_size_is_a_plain_decimal():
    key = Ed25519PrivateKey.generate()
    vkey = witness.VerifierKey.parse(note.verifier_key("example.com/log", key.public_key()))
    root = base64.b64encode(bytes.fromhex(ROOTS[8])).decode()
    good = note.sign(f"example.com/log\n8\n{root}\n", "example.com/log", key)
    assert witness.open_checkpoint(good, vkey).size == 8
    for size in ("08", "\u0668", "+8", "-8"):
        signed = note.sign(f"example.com/log\n{size}\n{root}\n", "example.com/log", key)
        with pytest.raises(witness.LogError, match="bad_checkpoint"):
            witness.open_checkpoint(signed, vkey)


THIRTY_THREE = [merkle.leaf_hash(f"event {i}".encode()) for i in range(33)]
ROOTS_33 = [merkle.root(THIRTY_THREE[:n]) for n in range(34)]  # ROOTS_33[n]: the tree of the first n leaves


def every_proof_verifies(verifier, leaves=THIRTY_THREE, roots=ROOTS_33) -> None:
    """Every inclusion and consistency proof the server builds for trees of 1..33 leaves verifies with
    `verifier` (the server's own audit.merkle, or the client's witness), and none for a wrong leaf or root."""
    _, lookup = stored_nodes(leaves)
    for size in range(1, len(leaves) + 1):
        for index in range(size):
            proof = merkle.proof_hashes(merkle.inclusion_ranges(index, size), lookup)
            assert verifier.verify_inclusion(index, size, leaves[index], proof, roots[size]), (index, size)
            wrong = leaves[index - 1] if index else roots[0]
            assert not verifier.verify_inclusion(index, size, wrong, proof, roots[size]), (index, size)
        for first in range(1, size):
            proof = merkle.proof_hashes(merkle.consistency_ranges(first, size), lookup)
            assert verifier.verify_consistency(first, size, roots[first], roots[size], proof), (first, size)
            assert not verifier.verify_consistency(first, size, roots[first - 1], roots[size], proof), (first, size)


def test_the_client_verifies_every_proof_the_server_builds_for_trees_up_to_33_leaves():
    every_proof_verifies(witness)


def test_every_proof_of_every_tree_up_to_33_leaves_verifies_and_a_rewritten_history_does_not():
    every_proof_verifies(merkle)
    leaves, roots = THIRTY_THREE, ROOTS_33
    forged = [*leaves[:5], merkle.leaf_hash(b"forged"), *leaves[6:20]]
    _, forged_lookup = stored_nodes(forged)
    proof = merkle.proof_hashes(merkle.consistency_ranges(10, 20), forged_lookup)
    assert not merkle.verify_consistency(10, 20, roots[10], merkle.root(forged), proof)
    assert not merkle.verify_consistency(20, 10, roots[20], roots[10], [])  # a rewind


# ---- C2SP signed-note and tlog-checkpoint ------------------------------------------------------

# The example of c2sp.org/signed-note (also golang.org/x/mod/sumdb/note's documentation).
SPEC_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
SPEC_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
SPEC_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
SPEC_NOTE = (
    SPEC_TEXT + "\n\u2014 PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def spec_private_key() -> Ed25519PrivateKey:
    raw = base64.b64decode(SPEC_SKEY.split("+", 4)[4])
    assert raw[0] == 1  # Ed25519
    return Ed25519PrivateKey.from_private_bytes(raw[1:])


def test_signing_the_specs_example_reproduces_its_published_note_and_verifier_key_byte_for_byte():
    key = spec_private_key()
    assert note.verifier_key("PeterNeumann", key.public_key()) == SPEC_VKEY
    assert note.sign(SPEC_TEXT, "PeterNeumann", key) == SPEC_NOTE
    assert note.open_note(SPEC_NOTE, note.verifier_parse(SPEC_VKEY)) == SPEC_TEXT


def test_a_changed_note_or_a_foreign_key_is_refused():
    verifier = note.verifier_parse(SPEC_VKEY)
    with pytest.raises(note.NoteError, match="does not verify"):
        note.open_note(SPEC_NOTE.replace("answer", "Answer"), verifier)
    other = note.verifier_parse(note.verifier_key("PeterNeumann", Ed25519PrivateKey.generate().public_key()))
    with pytest.raises(note.NoteError, match="no signature by the log's key"):
        note.open_note(SPEC_NOTE, other)
    with pytest.raises(note.NoteError, match="hash does not match"):
        note.verifier_parse(SPEC_VKEY.replace("c74f20a3", "c74f20a4"))


def test_checkpoint_text_is_origin_size_and_base64_root_and_malformed_ones_are_refused():
    root = bytes.fromhex(ROOTS[8])
    text = note.Checkpoint("example.com/log", 8, root).text()
    assert text == f"example.com/log\n8\n{base64.b64encode(root).decode()}\n"
    assert note.checkpoint_parse(text) == note.Checkpoint("example.com/log", 8, root)
    for bad in ("example.com/log\n08\nAAAA\n", "example.com/log\n8\n" + "A" * 44 + "\n", "example.com/log\n8\n"):
        with pytest.raises(note.NoteError, match="not a checkpoint"):
            note.checkpoint_parse(bad)


def test_the_spec_example_checkpoint_parses():
    # c2sp.org/tlog-checkpoint's example body.
    body = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    parsed = note.checkpoint_parse(body)
    assert (parsed.origin, parsed.size, len(parsed.root_hash)) == ("example.com/behind-the-sofa", 20852163, 32)
