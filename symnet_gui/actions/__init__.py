"""The app's commands: one declarative table."""
