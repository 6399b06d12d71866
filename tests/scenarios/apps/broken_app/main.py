"""An app whose import fails, as a first release with a bug does: its traceback is only in the journal."""
raise RuntimeError("apps-scenario: this release is broken on purpose")
