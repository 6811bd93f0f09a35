"""Invitation codes: generation and hashing, issuing, output, and the `invites` commands."""
