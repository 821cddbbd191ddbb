ARG NODE_VERSION=20
FROM node:${NODE_VERSION}-alpine AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --only=production && npm cache clean --force
RUN set -eux; \
    apk add --no-cache --virtual .build-deps python3 make g++; \
    npm rebuild; \
    apk del .build-deps

FROM node:${NODE_VERSION}-alpine
ENV NODE_ENV=production PORT=3000
WORKDIR /app
COPY --from=deps --chown=node:node /app/node_modules ./node_modules
COPY --chown=node:node . .
EXPOSE $PORT
USER node
HEALTHCHECK --interval=30s --timeout=3s CMD ["wget", "-qO-", "http://localhost:3000/health"]
CMD ["node", "server.js"]
