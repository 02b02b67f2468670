"""cvat export and import (see docs/export-formats.md)."""
