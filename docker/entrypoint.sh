#!/bin/sh
# Container start: migrate and load reference data (idempotent), then serve under gunicorn.
set -e
rasoat init
exec rasoat serve --host "${HOST:-0.0.0.0}" --port "${PORT:-8000}" --workers "${WORKERS:-2}" --threads "${THREADS:-4}"
