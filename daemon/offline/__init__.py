"""Headless jobs: a file in, a file out (generation, piano-roll pictures)."""
