"""Human review in Argilla: a local server, push, pull, status."""
