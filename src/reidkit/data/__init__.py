"""Datasets: Market-1501-format readers and builders."""
