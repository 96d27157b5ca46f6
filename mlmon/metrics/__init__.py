"""Monitoring metrics: drift statistics computed inside the warehouse, finished in Python."""
