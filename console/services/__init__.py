"""Business logic shared by the views, the CLI and the scheduler."""
