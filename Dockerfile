FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY pyproject.toml README.md alembic.ini ./
COPY digest ./digest
COPY workers ./workers
COPY templates ./templates
COPY migrations ./migrations
RUN pip install --no-cache-dir -e .
RUN useradd --create-home digest
USER digest
EXPOSE 8000
CMD ["digest", "serve", "--host", "0.0.0.0", "--port", "8000"]
