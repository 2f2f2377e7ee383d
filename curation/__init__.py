"""Turning kept rows into datasets people can trust: statistics now; dedup, decontamination,
cards, Argilla review and Hub publishing as the curation issue lands."""
