"""Tests of the Microsoft Graph adapters."""
