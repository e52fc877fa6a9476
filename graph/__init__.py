"""Microsoft Graph adapters: call control, presence, notification parsing and token checks."""
