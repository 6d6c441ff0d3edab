//! Synthetic capture generator for benchmarks and memory tests.
