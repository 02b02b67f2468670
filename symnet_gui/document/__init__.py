"""The open project as the GUI thread sees it: document, operations, undo commands, review, autosave."""
