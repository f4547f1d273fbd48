"""The workspace: `campaign serve` (see app.py)."""
