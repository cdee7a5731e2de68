FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm install --omit=dev --no-audit --no-fund
COPY tsconfig.json ./
COPY gen ./gen
COPY src ./src
ENV MEMOS_DATA=/var/opt/memos NODE_ENV=production
EXPOSE 8081
CMD ["node", "--import", "tsx", "src/main.ts"]
