# gavel serve in a container: the router and the budgets behind an OpenAI-compatible endpoint.
#
#   docker build -t gavel-serve .
#   docker run --rm -p 4000:4000 -v "$PWD/configs:/config:ro" -v gavel-data:/data \
#     -e OPENAI_API_KEY -e GAVEL_TEAM_KEY gavel-serve
#
# The container listens on 0.0.0.0:4000, so the config MUST declare keys (`keys:` or `keysDb:`):
# `gavel serve` refuses a non-loopback host without them. Mount the config at /config/serve.yaml
# and point its SQLite paths (ledger, keys, budgets) at /data, a volume, so spend survives restarts.
# See docs/server.md, "Operations".

# --- build: compile the package from this checkout and pack it, as npm would publish it ---------
FROM node:20-slim AS build
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
# --ignore-scripts: building needs only TypeScript; no native module is compiled in this stage.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build && npm pack --ignore-scripts && mv langchain-gavel-*.tgz /tmp/langchain-gavel.tgz

# --- runtime: the packed package and the optional peers gavel serve needs -----------------------
FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /tmp/langchain-gavel.tgz /tmp/langchain-gavel.tgz
# `npm ci --omit=dev` cannot be used: the server's packages are optional peers of langchain-gavel,
# which npm never installs on its own. They are named here (hono, @hono/node-server, prom-client,
# better-sqlite3 for the SQLite ledger, keys and budgets; add pg for PostgreSQL budgets,
# node-llama-cpp for local GGUF members). The required peers (@langchain/core, @langchain/openai,
# langchain, @langchain/langgraph) are installed by npm. better-sqlite3 downloads a prebuilt binary
# when one exists for this platform and compiles otherwise: python3, make and g++ are installed for
# that, then removed in the same layer.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && npm init -y >/dev/null \
  && npm install --no-audit --no-fund \
    /tmp/langchain-gavel.tgz \
    hono@^4.13.23 @hono/node-server@^2.1.11 prom-client@^15.1.3 better-sqlite3@^12.11.1 \
  && npm cache clean --force \
  && apt-get purge -y python3 make g++ \
  && apt-get autoremove -y \
  && rm -rf /var/lib/apt/lists/* /tmp/langchain-gavel.tgz \
  && mkdir -p /config /data \
  && chown node:node /data
USER node
EXPOSE 4000
VOLUME ["/data"]
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:4000/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM (docker stop) is a graceful shutdown: stop accepting, finish or settle the streams in
# flight, close the ledger. Give it time: docker stop -t 30 (the default 10 s may cut long streams).
CMD ["npx", "gavel", "serve", "--config", "/config/serve.yaml", "--host", "0.0.0.0", "--port", "4000"]
