"""The field app (``/app/``): the files phones run, and the blueprint that serves them (app.py)."""
