"""Synthetic, seeded support history for demos, tests and benchmarks."""

from voicelake.generator.history import GeneratorSettings, generate_history

__all__ = ["GeneratorSettings", "generate_history"]
