# One image for every betguard process; docker-compose.yml picks the command.
# The default (last) stage is production: the product alone. The `dev` stage adds the
# developer tooling (devkit/: the provider/wallet simulator) for `--profile try`.
FROM python:3.11-slim AS product
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

# The product plus the developer tooling (betguard-devkit): never deployed.
FROM product AS dev
USER root
COPY devkit /src/devkit
RUN pip install --no-cache-dir /src/devkit && rm -rf /src
USER betguard

FROM product AS production
