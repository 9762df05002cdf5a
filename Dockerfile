FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    RASOAT_ENV=production RASOAT_INSTANCE_PATH=/var/lib/rasoat

WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY server ./server
COPY forms ./forms
COPY sync ./sync
COPY canonjson ./canonjson
RUN pip install --no-cache-dir -c constraints.txt . \
 && useradd --system --home /var/lib/rasoat rasoat \
 && mkdir -p /var/lib/rasoat && chown rasoat /var/lib/rasoat
COPY docker/entrypoint.sh /usr/local/bin/rasoat-entrypoint

USER rasoat
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status != 200)"
ENTRYPOINT ["/usr/local/bin/rasoat-entrypoint"]
