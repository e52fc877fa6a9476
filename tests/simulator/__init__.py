"""Tests of the local Teams simulator."""
