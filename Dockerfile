# One image for every betguard process; docker-compose.yml picks the command.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# The sources install as one package, betguard (its folders map to betguard.models, ...);
# the processes then run from an empty directory so that only the installed package is seen.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY betguard betguard
COPY config config
COPY models models
COPY providers providers
COPY services services
COPY tasks tasks
RUN pip install --no-cache-dir . \
    && rm -rf /src \
    && useradd --system --create-home --uid 10001 betguard \
    && mkdir -p /var/lib/betguard && chown betguard /var/lib/betguard
WORKDIR /var/lib/betguard
USER betguard
