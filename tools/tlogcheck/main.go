// tlogcheck judges the audit log's published artifacts with Go's reference implementation of signed notes and
// transparency-log proofs (golang.org/x/mod/sumdb/note and sumdb/tlog, as Debian's golang-golang-x-mod-dev
// ships them), so that nothing of the service's own code takes part in the verdict.
//
// Input (stdin, JSON): the log's verifier key, a signed checkpoint, and optionally an older checkpoint with the
// consistency proof from it, and inclusion proofs of records. Output (stdout, JSON): what it found. Any check
// that fails ends the run with exit status 1 and the reason on stderr.
package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type inclusion struct {
	Index  int64    `json:"index"`
	Record *string  `json:"record"`    // the leaf's data (a record's canonical event), or
	Leaf   string   `json:"leaf_hash"` // its leaf hash, base64
	Proof  []string `json:"proof"`
}

type input struct {
	Key         string      `json:"vkey"`
	Checkpoint  string      `json:"checkpoint"`
	Older       string      `json:"older_checkpoint"`
	Consistency []string    `json:"consistency_proof"`
	Inclusions  []inclusion `json:"inclusions"`
}

type checkpoint struct {
	Origin string `json:"origin"`
	Size   int64  `json:"size"`
	Root   string `json:"root"`
}

type output struct {
	Checkpoint checkpoint `json:"checkpoint"`
	Older      checkpoint `json:"older_checkpoint"`
	Signers    []string   `json:"signers"`
	Included   []int64    `json:"included"`
	Consistent bool       `json:"consistent"`
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func hashes(values []string) []tlog.Hash {
	out := make([]tlog.Hash, len(values))
	for i, value := range values {
		raw, err := base64.StdEncoding.DecodeString(value)
		if err != nil || len(raw) != tlog.HashSize {
			fail("proof hash %d is not 32 bytes of base64", i)
		}
		copy(out[i][:], raw)
	}
	return out
}

// open verifies the note with the log's key and parses its body as c2sp.org/tlog-checkpoint: the origin line
// (which must be the key's name), the tree size in decimal, the root hash in base64, then optional extension lines.
func open(text string, verifier note.Verifier) (checkpoint, tlog.Tree, []string) {
	n, err := note.Open([]byte(text), note.VerifierList(verifier))
	if err != nil {
		fail("note: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 || lines[len(lines)-1] != "" {
		fail("checkpoint: fewer than three lines")
	}
	if lines[0] != verifier.Name() {
		fail("checkpoint: origin %q is not the key's name %q", lines[0], verifier.Name())
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		fail("checkpoint: size %q is not a decimal number", lines[1])
	}
	root := hashes([]string{lines[2]})[0]
	signers := []string{}
	for _, sig := range n.Sigs {
		signers = append(signers, fmt.Sprintf("%s+%08x", sig.Name, sig.Hash))
	}
	return checkpoint{lines[0], size, base64.StdEncoding.EncodeToString(root[:])}, tlog.Tree{N: size, Hash: root}, signers
}

func main() {
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		fail("input: %v", err)
	}
	verifier, err := note.NewVerifier(strings.TrimSpace(in.Key))
	if err != nil {
		fail("verifier key: %v", err)
	}
	var out output
	var tree tlog.Tree
	out.Checkpoint, tree, out.Signers = open(in.Checkpoint, verifier)
	for _, inc := range in.Inclusions {
		var leaf tlog.Hash
		if inc.Record != nil {
			leaf = tlog.RecordHash([]byte(*inc.Record))
		} else {
			leaf = hashes([]string{inc.Leaf})[0]
		}
		if err := tlog.CheckRecord(hashes(inc.Proof), tree.N, tree.Hash, inc.Index, leaf); err != nil {
			fail("inclusion of leaf %d in the tree of %d: %v", inc.Index, tree.N, err)
		}
		out.Included = append(out.Included, inc.Index)
	}
	if in.Older != "" {
		var older tlog.Tree
		out.Older, older, _ = open(in.Older, verifier)
		if err := tlog.CheckTree(hashes(in.Consistency), tree.N, tree.Hash, older.N, older.Hash); err != nil {
			fail("consistency from %d to %d: %v", older.N, tree.N, err)
		}
		out.Consistent = true
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail("output: %v", err)
	}
}
