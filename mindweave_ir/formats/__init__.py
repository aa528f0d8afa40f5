"""Project date formats (settings.FORMAT_MODULE_PATH), ahead of Django's locale ones."""
