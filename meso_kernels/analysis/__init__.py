"""Observables of configurations and trajectories, one module per observable (DESIGN.md): rdf (g(r) per species pair)."""
