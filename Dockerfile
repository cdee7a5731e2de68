# Build stage: the server bundle (dist/main.js), as `npm start` builds it.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY scripts ./scripts
COPY gen ./gen
COPY src ./src
RUN npm install --no-audit --no-fund && node scripts/build.mjs

# Runtime: production dependencies (the packages the bundle imports, and the install step that
# prepares the PGlite template), then the bundle.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY scripts ./scripts
COPY gen ./gen
COPY src ./src
RUN npm install --omit=dev --no-audit --no-fund
COPY --from=build /app/dist ./dist
ENV MEMOS_DATA=/var/opt/memos NODE_ENV=production
EXPOSE 8081
CMD ["node", "--enable-source-maps", "dist/main.js"]
