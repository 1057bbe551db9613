"""Adapters: one package per backend, each implementing the ports it serves."""
