# Kiln server image: the SPA built in a Node stage, then Python with the pinned packages.
# Used by docker-compose.yml for the web server, the workers and the beat scheduler.
FROM node:20-bookworm-slim AS frontend
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

FROM python:3.11-slim-bookworm
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 KILN_PROFILE=production
# bubblewrap: the local job runtime; graphviz: bake graphs as SVG/PDF.
RUN apt-get update && apt-get install -y --no-install-recommends bubblewrap graphviz \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt constraints.txt pyproject.toml ./
RUN pip install -r requirements.txt -c constraints.txt
COPY . .
COPY --from=frontend /src/frontend/dist /app/frontend/dist
RUN pip install --no-deps . && useradd --create-home --uid 1000 kiln && mkdir -p /data && chown kiln /data
USER kiln
EXPOSE 8000
CMD ["uvicorn", "console.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--ws", "websockets", "--http", "console.server:HttpProtocol", "--proxy-headers", "--forwarded-allow-ips", "*"]
