"""Output provenance: receipts and AIGC labels (labels), reading what a file carries (embedded), the public check."""
