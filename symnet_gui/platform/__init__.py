"""Qt-light plumbing: user folders, settings, logging, Qt workarounds, style."""
