"""Ranking: trend scores from signal snapshots, and the papers of an edition."""
