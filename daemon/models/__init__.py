"""Models shipped with segue, as package data."""
